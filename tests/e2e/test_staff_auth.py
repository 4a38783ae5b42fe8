"""Staff sign-in, sessions and account changes, against a real server process on each backend.

Sessions are server-side: signing out, disabling an account and changing its role reach the
very next request and, within 5 s, the account's open board socket. Failed sign-ins are counted
in the database, per username and per address, and the limit holds for the right password too.
Different client addresses are simulated with X-Forwarded-For, which uvicorn takes from a
proxy on 127.0.0.1 (its default), as from the reverse proxy of the production layout.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from domain.staff import Role
from tests.e2e.client import PASSWORD, Api, add_staff
from tests.e2e.conftest import Live
from tests.e2e.server import ROOT
from tracking.sidestore import SideStore

EFFECT_LIMIT_S = 5.0  # the bound for a disable or role change to reach a socket


def _address() -> str:
    return f"10.{uuid4().int % 250}.{uuid4().int % 250}.{uuid4().int % 250 + 1}"


def _sign_in(live: Live, username: str, password: str, address: str) -> httpx.Response:
    return httpx.post(
        f"{live.url}/api/auth/token",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )


def _signed_in(live: Live, role: Role) -> tuple[str, Api, str]:
    """(username, a client with its token, the token)."""
    username = add_staff(live.settings, role)
    answer = _sign_in(live, username, PASSWORD, _address())
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    return username, Api(live.url, token), token


class Socket:
    """A board websocket that has had its snapshot; `closed()` waits for the server to close it."""

    def __init__(self, live: Live, token: str) -> None:
        self.ws: ClientConnection = _connect(live).__enter__()
        self.ws.send(orjson.dumps({"token": token, "after": None}).decode())
        first = orjson.loads(self.ws.recv(timeout=10))
        assert first["type"] == "snapshot", first

    def closed(self, within: float) -> tuple[int | None, str, float]:
        """(close code, reason, seconds it took), failing if still open after `within`."""
        started = time.monotonic()
        deadline = started + within
        try:
            while time.monotonic() < deadline:
                self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            pass
        except ConnectionClosed:
            return self.ws.close_code, self.ws.close_reason or "", time.monotonic() - started
        self.ws.close()
        raise AssertionError(f"the board socket is still open after {within} s")


def _connect(live: Live, origin: str | None = None) -> ClientConnection:
    url = live.url.replace("http://", "ws://") + "/ws/board"
    return connect(url, origin=Origin(origin) if origin else None, max_size=2**26)


def _patch(admin: Api, username: str, body: dict[str, Any]) -> httpx.Response:
    return admin.http.patch(f"/api/staff/{username}", json=body)


def test_a_wrong_password_or_unknown_user_is_401_alike(live: Live) -> None:
    username = add_staff(live.settings, Role.SCREENER)
    address = _address()
    wrong = _sign_in(live, username, "not the password!", address)
    unknown = _sign_in(live, f"nobody-{uuid4().hex[:6]}", PASSWORD, address)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong username or password"}
    right = _sign_in(live, username, PASSWORD, address)
    assert right.status_code == 200
    assert set(right.json()) == {"access_token", "token_type", "role"}
    assert right.json()["role"] == "screener"


def test_the_sixth_attempt_at_one_username_is_refused_even_with_the_right_password(
    live: Live,
) -> None:
    username = add_staff(live.settings, Role.DISPATCHER)
    address = _address()
    for attempt in range(5):
        answer = _sign_in(live, username, f"guess number {attempt}", address)
        assert answer.status_code == 401, (attempt, answer.text)
    refused = _sign_in(live, username, PASSWORD, address)
    assert refused.status_code == 429, refused.text
    assert "too many failed sign-ins" in refused.json()["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    # The account is what is being guessed at: from another address it is refused as well ...
    assert _sign_in(live, username, PASSWORD, _address()).status_code == 429
    # ... while that address still signs other people in.
    other = add_staff(live.settings, Role.DISPATCHER)
    assert _sign_in(live, other, PASSWORD, address).status_code == 200


def test_failures_across_many_usernames_from_one_address_are_refused(live: Live) -> None:
    address = _address()
    username = add_staff(live.settings, Role.ESCORT)
    # A sprayer tries many names at once; so does this (and so it takes less time).
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(
            lambda n: _sign_in(live, f"spray-{n}-{uuid4().hex[:4]}", "a guess", address),
            range(29),
        ))
    assert [a.status_code for a in answers] == [401] * 29
    # A success in between neither counts nor clears the count.
    assert _sign_in(live, username, PASSWORD, address).status_code == 200
    assert _sign_in(live, "spray-last", "a guessed password", address).status_code == 401
    refused = _sign_in(live, username, PASSWORD, address)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert _sign_in(live, username, PASSWORD, _address()).status_code == 200


def test_signing_out_ends_that_session_only(live: Live) -> None:
    username, api, token = _signed_in(live, Role.SCREENER)
    other = _sign_in(live, username, PASSWORD, _address()).json()["access_token"]
    api.get("/api/reference")
    assert api.http.post("/api/auth/sign-out").status_code == 204
    assert api.http.get("/api/reference").status_code == 401
    assert api.http.post("/api/auth/sign-out").status_code == 401
    assert Api(live.url, other).http.get("/api/reference").status_code == 200
    assert Api(live.url, token + "x").http.get("/api/reference").status_code == 401


def test_a_disabled_dispatcher_is_out_at_once_and_its_board_closes_within_5_s(
    live: Live,
) -> None:
    _, admin, _ = _signed_in(live, Role.ADMIN)
    username, dispatcher, token = _signed_in(live, Role.DISPATCHER)
    dispatcher.get("/api/dispatch")
    socket = Socket(live, token)

    changed = _patch(admin, username, {"active": False, "reason": "left the team"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False
    assert dispatcher.http.get("/api/dispatch").status_code == 401
    code, reason, took = socket.closed(within=EFFECT_LIMIT_S)
    assert code == 4401, (code, reason)
    assert took <= EFFECT_LIMIT_S
    assert _sign_in(live, username, PASSWORD, _address()).status_code == 401

    again = _patch(admin, username, {"active": False})
    assert again.status_code == 409
    assert "already disabled" in again.json()["detail"] or "disabled" in again.json()["detail"]
    assert _patch(admin, f"nobody-{uuid4().hex[:6]}", {"active": False}).status_code == 404
    # Enabled again, the account signs in afresh; the session it had stays ended.
    assert _patch(admin, username, {"active": True}).status_code == 200
    assert dispatcher.http.get("/api/dispatch").status_code == 401
    assert _sign_in(live, username, PASSWORD, _address()).status_code == 200


def test_a_role_change_applies_to_the_next_request_and_closes_the_board_within_5_s(
    live: Live,
) -> None:
    _, admin, _ = _signed_in(live, Role.ADMIN)
    username, staff, token = _signed_in(live, Role.DISPATCHER)
    staff.get("/api/dispatch")
    socket = Socket(live, token)

    changed = _patch(admin, username, {"role": "escort", "reason": "moved to the vans"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "escort"
    assert staff.http.get("/api/dispatch").status_code == 403
    assert staff.http.get("/api/runs").status_code == 200  # the same token, the new role
    code, reason, took = socket.closed(within=EFFECT_LIMIT_S)
    assert code == 4012, (code, reason)
    assert took <= EFFECT_LIMIT_S
    # Reconnecting as an escort, the board is not theirs to see.
    with _connect(live) as ws:
        ws.send(orjson.dumps({"token": token, "after": None}).decode())
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4403

    assert _patch(admin, username, {"role": "escort"}).status_code == 409
    assert _patch(admin, username, {}).status_code == 422


def test_the_staff_list_names_accounts_and_never_their_hashes(live: Live) -> None:
    _, admin, _ = _signed_in(live, Role.ADMIN)
    username = add_staff(live.settings, Role.RECEIVER)
    assert _patch(admin, username, {"site_codes": ["st-1", "ST-2"]}).status_code == 200
    answer = admin.http.get("/api/staff")
    assert answer.status_code == 200
    listed = {a["username"]: a for a in answer.json()}
    assert listed[username] == {
        "username": username, "role": "receiver", "display_name": "Test receiver",
        "active": True, "site_codes": ["ST-1", "ST-2"],
    }
    assert "argon2" not in answer.text and "hash" not in answer.text
    _, screener, _ = _signed_in(live, Role.SCREENER)
    assert screener.http.get("/api/staff").status_code == 403
    assert screener.http.patch(f"/api/staff/{username}", json={"active": False}).status_code == 403


def test_a_foreign_origin_is_refused_on_changes_and_on_the_board_socket(live: Live) -> None:
    username = add_staff(live.settings, Role.COMMANDER)
    body = {"username": username, "password": PASSWORD}
    token_url = f"{live.url}/api/auth/token"
    foreign = httpx.post(token_url, json=body, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert "another site" in foreign.json()["detail"]
    own = httpx.post(token_url, json=body, headers={"Origin": live.url})
    assert own.status_code == 200
    token = own.json()["access_token"]
    # "null" (a no-referrer page's form) passes only without credentials.
    sign_out = f"{live.url}/api/auth/sign-out"
    null_origin = {"Origin": "null", "Authorization": f"Bearer {token}"}
    assert httpx.post(sign_out, headers=null_origin).status_code == 403
    # Reading is not refused: a foreign page cannot read the answer anyway (no CORS).
    read = httpx.get(f"{live.url}/api/reference", headers={
        "Origin": "http://evil.example", "Authorization": f"Bearer {token}"})
    assert read.status_code == 200

    with pytest.raises(InvalidStatus) as refused:
        _connect(live, "http://evil.example")
    assert refused.value.response.status_code == 403
    with _connect(live, live.url) as ws:
        ws.send(orjson.dumps({"token": token, "after": None}).decode())
        assert orjson.loads(ws.recv(timeout=10))["type"] == "snapshot"


def test_sessions_are_stored_only_as_hashes(live: Live) -> None:
    username, api, token = _signed_in(live, Role.SURVEYOR)
    typed = f"pw-in-name-{uuid4().hex[:8]}"
    assert _sign_in(live, typed, "whatever it is", _address()).status_code == 401
    store = SideStore(live.settings)
    try:
        with store.transaction(write=False) as cur:
            cur.execute("SELECT * FROM staff_sessions")
            sessions = [tuple(str(v) for v in row) for row in cur.fetchall()]
            cur.execute("SELECT * FROM staff_sign_in_failures")
            failures = [tuple(str(v) for v in row) for row in cur.fetchall()]
    finally:
        store.close()
    flat = " ".join(v for row in sessions for v in row)
    assert token not in flat
    assert hashlib.sha256(token.encode()).hexdigest() in flat
    assert any(row[1] == username for row in sessions)
    assert failures and typed not in " ".join(v for row in failures for v in row)
    assert api.http.get("/api/survey/worklist").status_code == 200


def _cli(live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKING_DATA_DIR": str(live.settings.data_dir), "PYTHONPATH": str(ROOT)}
    if live.settings.is_postgres:
        env["TRACKING_DATABASE_URL"] = live.settings.database_url
    return subprocess.run(
        [sys.executable, "-m", "tracking.cli", "users", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_cli_disables_enables_and_changes_roles(live: Live) -> None:
    username, api, _ = _signed_in(live, Role.SCREENER)
    done = _cli(live, "role", username, "commander")
    assert done.returncode == 0, done.stderr
    assert "commander" in done.stdout
    assert api.http.get("/api/reports/daily").status_code == 200
    done = _cli(live, "disable", username)
    assert done.returncode == 0, done.stderr
    assert api.http.get("/api/reference").status_code == 401
    assert _cli(live, "enable", username).returncode == 0
    assert _sign_in(live, username, PASSWORD, _address()).status_code == 200
