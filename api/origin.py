"""Refuse state-changing requests and websocket handshakes that a foreign page started.

Staff credentials travel in an Authorization header (the board socket: in its first frame),
which no browser adds by itself, so a foreign page cannot act with them (no CSRF). This check
is the second wall: a browser always names the page's origin in `Origin` on a POST, PUT,
PATCH or DELETE and on a websocket handshake, so a foreign one is refused before any handler
runs. Requests without `Origin` (curl, scripts, the tests' clients) are not from a browser
page and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
FORBIDDEN_BODY = (
    b'{"detail":"this request came from a page of another site (Origin) and is refused"}'
)


def origin_of(url: str) -> str:
    """scheme://host[:port], lower-case, without the scheme's default port; '' if none."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    shown = "" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{shown}"


class OriginCheck:
    def __init__(self, app: ASGIApp, public_url: str = "") -> None:
        self.app = app
        self.public_origin = origin_of(public_url) if public_url else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        checked = kind == "websocket" or (kind == "http" and scope["method"] not in SAFE_METHODS)
        if checked and not self._allowed(scope):
            if kind == "websocket":
                # Closing before accepting answers the handshake with 403.
                await send({"type": "websocket.close", "code": 1008})
                return
            await send({
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json")],
            })
            await send({"type": "http.response.body", "body": FORBIDDEN_BODY})
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None:
            return True
        claimed = origin_of(origin.decode("latin-1"))
        if not claimed:
            # Chromium sends "null" for a form posted from a page whose Referrer-Policy is
            # no-referrer (the traveller's pages). A request with no credentials, outside a
            # websocket, has nothing a forger could borrow; anything else is refused.
            # (No cookie is a credential here: the only one is the traveller's language.)
            return (origin.strip() == b"null" and scope["type"] == "http"
                    and b"authorization" not in headers)
        if claimed == self.public_origin:
            return True
        # The request's own origin: the scheme it came in on and the Host it asked for.
        scheme = {"ws": "http", "wss": "https"}.get(scope["scheme"], scope["scheme"])
        host = headers.get(b"host", b"").decode("latin-1")
        return bool(host) and claimed == origin_of(f"{scheme}://{host}")
