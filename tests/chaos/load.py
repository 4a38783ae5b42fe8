"""The load the faults are made under: clients sending registrations and screenings over HTTP.

Each client sends one command at a time, each with an Idempotency-Key of its own: a
registration of a new traveller (distinct document and phone, and a distinct client address in
X-Forwarded-For, as hundreds of phones behind an airport's proxy, so that no throttle refuses
it), or the screening of a traveller it saw registered. On a transport error, a 5xx or a 429 it
sends the very same request again (same key, same body), as a real client does, until it is
acknowledged (a 2xx) or the load ends: the acknowledgements are the journal the checker holds
the store to; what was never acknowledged is kept apart (it may or may not have landed).

Every attempt is recorded (when, how long, what status), so that tests can say how the API
answered during a fault and how soon it served again.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx

from tests.e2e.client import traveller

SCREENING = {"risk": "low", "temperature": 36.6, "where": "chaos desk"}
MAX_BACKOFF_S = 1.5


@dataclass(frozen=True)
class Ack:
    """A command the API acknowledged (2xx)."""

    kind: str  # "register" | "screen"
    key: str  # its Idempotency-Key
    journey_id: str
    document: str  # the document number registered ("" for a screening)
    attempts: int


@dataclass(frozen=True)
class Pending:
    """A command never acknowledged before the load ended."""

    kind: str
    key: str
    journey_id: str
    document: str
    attempts: int
    last: str  # the last answer: a status, or the transport error's name


@dataclass(frozen=True)
class Attempt:
    kind: str
    started: float  # time.monotonic()
    seconds: float
    status: int | None  # None: no HTTP answer (connection refused or reset, timeout)
    retry_after: str | None
    error: str = ""

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Load:
    def __init__(
        self,
        targets: Callable[[], list[str]],
        *,
        entry_point: str,
        screener_token: str,
        clients: int = 6,
        pause_s: float = 0.02,
        request_timeout_s: float = 10.0,
    ) -> None:
        """`targets()`: the base URLs of the API processes serving now (asked before every
        attempt; a retry goes to the next one, as through a load balancer)."""
        self.targets = targets
        self.entry_point = entry_point
        self.screener = {"Authorization": f"Bearer {screener_token}"}
        self.clients = clients
        self.pause_s = pause_s
        self.request_timeout_s = request_timeout_s
        self.tag = uuid4().hex[:4].upper()
        self.journal: list[Ack] = []
        self.unacknowledged: list[Pending] = []
        self.attempts: list[Attempt] = []
        # 4xx answers other than 429: commands the product refused (none is expected).
        self.refused: list[str] = []
        self._screenable: list[str] = []
        self._numbers = itertools.count(1)
        self._turn = itertools.count()
        self._stopping = threading.Event()  # no new commands
        self._ended = threading.Event()  # no more retries either
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    # -- running -----------------------------------------------------------------------------
    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 30.0) -> None:
        """Start no new command; let the ones under way retry for up to `drain_s`, then give
        them up (they go to `unacknowledged`)."""
        assert self._thread is not None
        self._stopping.set()
        self._thread.join(drain_s)
        self._ended.set()
        self._thread.join(self.request_timeout_s + 5)
        assert not self._thread.is_alive(), "the load did not end"
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # shown by stop()
            self._failure = e

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.clients * 2, max_keepalive_connections=0)
        # No keep-alive: each attempt opens its connection, so that a dead process is noticed
        # by the attempt that meets it, not by a later one on a pooled socket.
        async with httpx.AsyncClient(limits=limits, timeout=self.request_timeout_s) as http:
            await asyncio.gather(*(self._client(http) for _ in range(self.clients)))

    async def _client(self, http: httpx.AsyncClient) -> None:
        while not self._stopping.is_set():
            if self._screenable and random.random() < 0.45:
                journey = self._screenable.pop(random.randrange(len(self._screenable)))
                await self._command(http, "screen", f"/api/journeys/{journey}/screening",
                                    SCREENING, self.screener, journey=journey)
            else:
                n = next(self._numbers)
                number = f"CH{self.tag}{n:07d}"
                body = {
                    "entry_point": self.entry_point,
                    "travellers": [traveller(number, phone=f"+44791{n % 10**7:07d}")],
                }
                address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
                await self._command(http, "register", "/api/registrations", body,
                                    {"X-Forwarded-For": address}, document=number)
            await asyncio.sleep(self.pause_s)

    async def _command(
        self, http: httpx.AsyncClient, kind: str, path: str, body: dict[str, Any],
        headers: dict[str, str], *, journey: str = "", document: str = "",
    ) -> None:
        key = str(uuid4())
        headers = headers | {"Idempotency-Key": key}
        backoff = 0.1
        attempts = 0
        last = ""
        while not self._ended.is_set():
            targets = self.targets()
            url = targets[next(self._turn) % len(targets)]
            started = time.monotonic()
            try:
                answer = await http.post(url + path, json=body, headers=headers)
            except httpx.HTTPError as e:
                attempts += 1
                last = type(e).__name__
                self.attempts.append(
                    Attempt(kind, started, time.monotonic() - started, None, None, last)
                )
            else:
                attempts += 1
                status, last = answer.status_code, str(answer.status_code)
                retry_after = answer.headers.get("Retry-After")
                self.attempts.append(
                    Attempt(kind, started, time.monotonic() - started, status, retry_after)
                )
                if 200 <= status < 300:
                    journey = journey or answer.json()["journey_ids"][0]
                    self.journal.append(Ack(kind, key, journey, document, attempts))
                    if kind == "register":
                        self._screenable.append(journey)
                    return
                if status < 500 and status != 429:
                    self.refused.append(f"{kind} {status} after {attempts}: {answer.text[:300]}")
                    return
                if status == 429 and retry_after:  # a throttle: wait as told
                    await asyncio.sleep(float(retry_after))
                    continue
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, MAX_BACKOFF_S)
        self.unacknowledged.append(Pending(kind, key, journey, document, attempts, last))

    # -- what happened -----------------------------------------------------------------------
    def acknowledged_after(self, moment: float) -> float | None:
        """When the first command started after `moment` was acknowledged (None: never)."""
        ends = [a.ended for a in list(self.attempts) if a.acknowledged and a.started >= moment]
        return min(ends) if ends else None

    def wait_acknowledged_after(self, moment: float, timeout: float) -> float | None:
        """Seconds from `moment` to the first acknowledgement of an attempt started after it,
        waiting up to `timeout` for one (None: none came)."""
        deadline = time.monotonic() + timeout
        while (first := self.acknowledged_after(moment)) is None:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return first - moment

    def server_errors(self) -> list[Attempt]:
        """5xx answers other than 503 (a store outage): none is expected, whatever the fault."""
        return [a for a in self.attempts if a.status is not None and a.status >= 500
                and a.status != 503]

    def summary(self) -> str:
        statuses: dict[str, int] = {}
        for a in self.attempts:
            name = str(a.status) if a.status is not None else a.error
            statuses[name] = statuses.get(name, 0) + 1
        kinds = {k: sum(a.kind == k for a in self.journal) for k in ("register", "screen")}
        return (
            f"commands acknowledged {len(self.journal)} ({kinds}), unacknowledged "
            f"{len(self.unacknowledged)}, refused {len(self.refused)}; attempts {statuses}"
        )
