"""A lean HTTP/1.1 keep-alive client for the benchmarks' load generators.

httpx's async client spent ~3 ms of CPU per request here: on two cores that is load
generator, not system, and it makes answers late. This one writes the request by hand, reads
`Content-Length` bytes back and keeps its connections for the next request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson


class LeanHttp:
    """Connections to one server, reused; `local` binds them to one loopback address (a
    distinct client address without X-Forwarded-For), `token` signs every request in."""

    def __init__(self, url: str, local: str | None = None, token: str | None = None) -> None:
        parsed = urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.local = local
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.head = f"Host: {self.host}:{self.port}\r\n{auth}"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self, method: str, path: str, body: Any = None,
        headers: Mapping[str, str] | None = None, *, decode: bool = True,
    ) -> tuple[int, Any]:
        """(status, answer): the JSON answer decoded, or its size in bytes (`decode=False`)."""
        data = b"" if body is None else orjson.dumps(body)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        message = (
            f"{method} {path} HTTP/1.1\r\n{self.head}{extra}Content-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode() + data
        )
        while self.idle:
            # A kept-alive connection the server has closed meanwhile (uvicorn closes idle
            # ones after 5 s) fails before any answer: the request was not read, send it anew.
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, message, decode)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                if isinstance(e, asyncio.IncompleteReadError) and e.partial:
                    raise
                writer.close()
        reader, writer = await asyncio.open_connection(
            self.host, self.port, local_addr=(self.local, 0) if self.local else None
        )
        return await self._exchange(reader, writer, message, decode)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes,
        decode: bool,
    ) -> tuple[int, Any]:
        writer.write(message)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
        answer = await reader.readexactly(length)
        if "connection: close" in head:
            writer.close()
        else:
            self.idle.append((reader, writer))
        if not decode:
            return status, len(answer)
        return status, orjson.loads(answer) if answer else None

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()
