"""A lean asyncio HTTP/1.1 keep-alive client, and commands that are retried until answered.

httpx's async client costs milliseconds of CPU per request, which on a small machine makes the
load generator the bottleneck; this writes the request by hand, reads `Content-Length` (or
chunked) bodies and keeps connections for the next request.

Every mutating request carries an Idempotency-Key. A transport error, a timeout or a 503 is
retried with the same key (the server answers a repeat with the first answer); a 429 waits
for its Retry-After and is retried with the same key too, and so is a 409 that says the
records were too busy to change (the server's own retries ran out under contention).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import orjson

BUSY = "too many people changed these records at once"


class TransportError(Exception):
    """No answer: the connection failed, closed early, or the answer took too long."""


class Refused(Exception):
    """The server answered a command with a 4xx (other than 429): a rule said no."""

    def __init__(self, kind: str, status: int, detail: Any) -> None:
        super().__init__(f"{kind}: {status} {detail}")
        self.kind, self.status, self.detail = kind, status, detail


class GaveUp(Exception):
    """A command still had no answer when its retry budget ran out."""


@dataclass(frozen=True)
class Session:
    """A signed-in staff member."""

    role: str
    username: str
    token: str


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class Http:
    """Connections to one server, reused. `timeout` bounds one exchange (seconds)."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parsed = urlsplit(url)
        if parsed.scheme != "http":
            raise ValueError(f"the drill speaks plain http:// to a server it can reach: {url}")
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.timeout = timeout
        self.head = f"Host: {self.host}:{self.port}\r\nUser-Agent: tracking-drill\r\n"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> Answer:
        data = b"" if body is None else orjson.dumps(body)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        kind = "Content-Type: application/json\r\n" if body is not None else ""
        message = (
            f"{method} {path} HTTP/1.1\r\n{self.head}{extra}{kind}"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data
        try:
            return await asyncio.wait_for(self._send(message), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as e:
            raise TransportError(f"{method} {path}: {type(e).__name__} {e}") from None

    async def _send(self, message: bytes) -> Answer:
        while self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, message)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                # A kept-alive connection the server closed meanwhile fails before any answer
                # (the request was not read): send it again on a new connection.
                writer.close()
                if isinstance(e, asyncio.IncompleteReadError) and e.partial:
                    raise
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, message)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
    ) -> Answer:
        try:
            writer.write(message)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                raw = await _read_chunked(reader)
            else:
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        body: Any = raw
        if raw and headers.get("content-type", "").startswith("application/json"):
            body = orjson.loads(raw)
        return Answer(status, headers, body)

    async def close(self) -> None:
        while self.idle:
            _, writer = self.idle.pop()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


@dataclass
class Tally:
    """What the commands met on the way: retries and why, latencies, acknowledgements."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # ms, per command kind
    acknowledged: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    throttled: int = 0
    unavailable: int = 0
    busy: int = 0  # 409 "too many people changed these records at once": retried
    transport_errors: int = 0


class Commands:
    """Commands of the day: each one sent until the server answers it (see the module)."""

    def __init__(
        self, http: Http, concurrency: int, *, journal: Callable[[dict[str, Any]], None] | None,
        budget: float = 300.0,
    ) -> None:
        self.http = http
        self.slots = asyncio.Semaphore(concurrency)
        self.journal = journal
        self.budget = budget  # seconds a command keeps retrying before it gives up
        self.tally = Tally()

    async def send(
        self, kind: str, method: str, path: str, body: Any = None, *,
        who: Session | None = None, address: str = "", ok: tuple[int, ...] = (200, 201),
        mutating: bool = True, journey_id: str | None = None,
    ) -> Any:
        """The answer's body once the server has answered with one of `ok`; `who` signs the
        request in, `address` is the client address it comes from (X-Forwarded-For)."""
        headers: dict[str, str] = {}
        if who is not None:
            headers["Authorization"] = f"Bearer {who.token}"
        if address:
            headers["X-Forwarded-For"] = address
        key = uuid4().hex if mutating else ""
        if key:
            headers["Idempotency-Key"] = key
        started = time.monotonic()
        pause = 0.1
        while True:
            async with self.slots:
                try:
                    answer = await self.http.request(method, path, body, headers)
                except TransportError:
                    answer = None
            wait = pause
            if answer is None:
                self.tally.transport_errors += 1
            elif answer.status in ok:
                break
            elif answer.status == 429:
                self.tally.throttled += 1
                wait = _retry_after(answer, 1.0)
            elif answer.status == 503:
                self.tally.unavailable += 1
                wait = min(_retry_after(answer, pause), 2.0)
            elif answer.status == 409 and _busy(answer):
                self.tally.busy += 1
            else:
                detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
                raise Refused(kind, answer.status, detail or answer.body)
            if time.monotonic() - started + wait > self.budget:
                raise GaveUp(f"{kind} {path}: no answer within {self.budget:.0f} s")
            self.tally.retries += 1
            await asyncio.sleep(wait)
            pause = min(pause * 2, 2.0)
        ms = (time.monotonic() - started) * 1000
        if mutating:
            self.tally.latencies.setdefault(kind, []).append(ms)
            self.tally.acknowledged[kind] = self.tally.acknowledged.get(kind, 0) + 1
            if self.journal is not None:
                caller = f"staff:{who.username}" if who is not None else "public"
                self.journal(_ack(kind, key, caller, answer, journey_id, ms))
        return answer.body


def _busy(answer: Answer) -> bool:
    """The server's optimistic retries ran out under contention: it asks to try again."""
    detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
    return isinstance(detail, str) and detail.startswith(BUSY)


def _retry_after(answer: Answer, default: float) -> float:
    try:
        return max(float(answer.headers.get("retry-after", default)), 0.05)
    except ValueError:
        return default


def _ack(
    kind: str, key: str, caller: str, answer: Answer, journey_id: str | None, ms: float
) -> dict[str, Any]:
    """One journal line: the server keeps the receipt under `caller:key` (public, or
    staff:<username>)."""
    body = answer.body if isinstance(answer.body, dict) else {}
    ids = body.get("journey_ids")
    line: dict[str, Any] = {
        "kind": kind,
        "key": key,
        "caller": caller,
        "journey_id": journey_id or body.get("journey_id") or (ids[0] if ids else None),
        "status": answer.status,
        "at": time.time(),
        "ms": round(ms, 2),
    }
    if ids and len(ids) > 1:
        line["journey_ids"] = ids
    if "run_id" in body:
        line["run_id"] = body["run_id"]
    return line
