"""Request-size and nesting limits, and throttling of public and login endpoints."""

from __future__ import annotations

import orjson
from fastapi import HTTPException, Request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
# The deepest a real body goes is ~5 levels (a party of travellers, each with places); the
# limit leaves room for free-form fields and stays far below what the parsers survive.
MAX_JSON_DEPTH = 32
TOO_DEEP = f'{{"detail":"the JSON is nested deeper than {MAX_JSON_DEPTH} levels"}}'.encode()
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_OPENING, _CLOSING, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), 0x22, 0x5C


class BodySizeLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(too_large(self.max_bytes))
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await _too_large(send, self.max_bytes)


class BodyTooLarge(Exception):
    """Raised from `receive` past the limit. FastAPI turns an error while it reads a body into
    a 400 `from` this one, which api/errors.py answers as the 413 it is."""


class JsonDepthLimit:
    """422 for a JSON body nested deeper than MAX_JSON_DEPTH, before anything parses it.

    Python's json module recurses once per level: 10,000 levels of [[[...]]] fit in 20 KiB and
    end in a RecursionError deep inside the request; orjson, which writes the events, refuses
    more than 254 levels at save time. Both would be a 500; a count of brackets is not.
    Sits inside BodySizeLimit, so it never holds more than the size limit in memory."""

    def __init__(self, app: ASGIApp, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or not _json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before it finished sending: no one to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if nested_deeper_than(body, self.max_depth):
            await send(
                {
                    "type": "http.response.start",
                    "status": 422,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": TOO_DEEP})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: the disconnect, when it comes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _json(scope: Scope) -> bool:
    """Whether FastAPI would parse the body as JSON: no content type, or application/*json."""
    declared: bytes | None = dict(scope["headers"]).get(b"content-type")
    if declared is None:
        return True
    media = declared.split(b";", 1)[0].strip().lower()
    return media.startswith(b"application/") and media.endswith(b"json")


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether brackets outside JSON strings nest deeper than `limit` (the body may be any
    bytes: this does not validate, only counts)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot be deeper than the brackets it has
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSING:
            depth -= 1
    return False


def too_large(max_bytes: int = MAX_BODY_BYTES) -> str:
    return f"the request body is larger than {max_bytes // 1024} KiB"


async def _too_large(send: Send, max_bytes: int) -> None:
    body = orjson.dumps({"detail": too_large(max_bytes)})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Throttle:
    """A moving-window limit per key (client address, username, document)."""

    def __init__(self, rate: str) -> None:
        self.rate = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        # In a moving window the oldest hit has left after one window: waiting that long is
        # always enough, whichever key was over.
        self.retry_headers = {"Retry-After": str(self.rate.get_expiry())}

    def allows(self, *keys: str) -> bool:
        """Count a hit on every key; False if any of them is over its limit."""
        return all([self.limiter.hit(self.rate, key) for key in keys])

    def check(self, *keys: str) -> None:
        for key in keys:
            if not self.limiter.hit(self.rate, key):
                raise HTTPException(
                    status_code=429,
                    detail="too many requests; please wait a minute and try again",
                    headers=self.retry_headers,
                )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
