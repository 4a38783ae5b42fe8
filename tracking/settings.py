"""Where the store is and which secrets to use, read once from the environment."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from domain import quarantine
from domain.alerts import MAX_THRESHOLD_MINUTES, Thresholds
from domain.dispatch import Policy
from domain.stages import RiskLevel

DEFAULT_DATA_DIR = Path("data")
ALERT_MODES = ("embedded", "off")
HOME_QUARANTINE = ("low", "medium", "none")
CIPHER_KEY_FILE = "cipher.keys"
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
MAX_RETENTION_DAYS = 3650


class SettingsError(ValueError):
    """A setting in the environment has a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret: bytes
    # A request must never hang on the database: it gets 503 after this many seconds.
    db_timeout_s: int = 2
    # Concurrent commands share transactions (tracking/group_commit.py).
    group_commit: bool = True
    # The address travellers' phones reach, printed in poster and personal QR codes
    # (e.g. https://rk.liwan.example); empty means the address the request came in on.
    public_url: str = ""
    # Loop-not-closed alerts: minutes each loop may stay open before it is an alert, how often
    # the monitor sweeps, and whether each API process runs one ("embedded") or none ("off").
    alert_not_boarded_minutes: int = 60
    alert_not_checked_in_minutes: int = 120
    alert_not_handed_over_minutes: int = 20
    alert_custody_offer_minutes: int = 15
    alert_sweep_seconds: float = 30.0
    alerts: str = "embedded"
    # The highest risk level the district allows home quarantine for (suggestions only; the
    # dispatcher decides): "low", "medium", or "none" (everyone to a hotel).
    home_quarantine_up_to: str = "low"
    # Board frames a websocket client may fall behind before it is dropped (docs/board.md).
    board_queue_limit: int = 1000
    # A new quarantine order: its length, the days of the order tested, and its legal basis
    # (empty: the application's default).
    quarantine_days: int = quarantine.DEFAULT_LENGTH_DAYS
    quarantine_test_days: tuple[int, ...] = quarantine.DEFAULT_TEST_DAYS
    quarantine_legal_basis: str = ""
    # The survey is due within this many hours of the room door (the worklist's SLA clock).
    survey_sla_hours: int = 24
    # The store-wide cipher's key ring, (key id, AES-256 key), the current key first: events are
    # encrypted with it, older keys only decrypt (tracking/store_cipher.py).
    cipher_keys: tuple[tuple[str, bytes], ...] = ()
    # Personal data of a journey closed more than this many days ago is erased by
    # `tracking retention run` (tracking/retention.py).
    retention_days: int = 30

    @property
    def dispatch_policy(self) -> Policy:
        up_to = self.home_quarantine_up_to
        return Policy(home_up_to=None if up_to == "none" else RiskLevel(up_to))

    @property
    def alert_thresholds(self) -> Thresholds:
        return Thresholds(
            not_boarded=self.alert_not_boarded_minutes,
            not_checked_in=self.alert_not_checked_in_minutes,
            not_handed_over=self.alert_not_handed_over_minutes,
            custody_not_accepted=self.alert_custody_offer_minutes,
            survey_overdue=self.survey_sla_hours * 60,
        )

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    @property
    def store_kind(self) -> str:
        return "postgresql" if self.is_postgres else "sqlite"

    @property
    def sqlite_path(self) -> Path:
        parsed = urlparse(self.database_url)
        return Path(unquote(parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path))

    @property
    def postgres_params(self) -> dict[str, str]:
        parsed = urlparse(self.database_url)
        return {
            "dbname": (parsed.path or "/").lstrip("/") or "postgres",
            "host": parsed.hostname or "127.0.0.1",
            "port": str(parsed.port or 5432),
            "user": unquote(parsed.username or "postgres"),
            "password": unquote(parsed.password or ""),
        }

    @property
    def postgres_conninfo(self) -> str:
        p = self.postgres_params
        parts = [f"{k}={v!s}" for k, v in p.items() if v]
        return " ".join(parts) + f" connect_timeout={max(self.db_timeout_s, 2)}"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("TRACKING_DATA_DIR", str(DEFAULT_DATA_DIR)))
    url = env.get("TRACKING_DATABASE_URL") or f"sqlite:///{data_dir / 'tracking.db'}"
    secret_hex = env.get("TRACKING_SECRET")
    secret = bytes.fromhex(secret_hex) if secret_hex else _local_secret(data_dir)
    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret=secret,
        db_timeout_s=int(env.get("TRACKING_DB_TIMEOUT", "2")),
        group_commit=env.get("TRACKING_GROUP_COMMIT", "1") != "0",
        public_url=env.get("TRACKING_PUBLIC_URL", "").rstrip("/"),
        alert_not_boarded_minutes=_minutes(env, "TRACKING_ALERT_NOT_BOARDED_MINUTES", 60),
        alert_not_checked_in_minutes=_minutes(env, "TRACKING_ALERT_NOT_CHECKED_IN_MINUTES", 120),
        alert_not_handed_over_minutes=_minutes(env, "TRACKING_ALERT_NOT_HANDED_OVER_MINUTES", 20),
        alert_custody_offer_minutes=_minutes(env, "TRACKING_ALERT_CUSTODY_OFFER_MINUTES", 15),
        alert_sweep_seconds=_seconds(env, "TRACKING_ALERT_SWEEP_SECONDS", 30.0),
        alerts=_choice(env, "TRACKING_ALERTS", ALERT_MODES),
        home_quarantine_up_to=_choice(env, "TRACKING_HOME_QUARANTINE_UP_TO", HOME_QUARANTINE),
        board_queue_limit=_count(env, "TRACKING_BOARD_QUEUE_LIMIT", 1000),
        quarantine_days=_days(env, "TRACKING_QUARANTINE_DAYS", quarantine.DEFAULT_LENGTH_DAYS),
        quarantine_test_days=_test_days(env, "TRACKING_QUARANTINE_TEST_DAYS"),
        quarantine_legal_basis=env.get("TRACKING_QUARANTINE_LEGAL_BASIS", "").strip()[
            : quarantine.MAX_BASIS
        ],
        survey_sla_hours=_hours(env, "TRACKING_SURVEY_SLA_HOURS", 24),
        cipher_keys=_cipher_keys(env, data_dir),
        retention_days=_retention_days(env, "TRACKING_RETENTION_DAYS", 30),
    )


def _retention_days(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= MAX_RETENTION_DAYS:
        raise SettingsError(
            f"{name} must be a whole number of days from 0 to {MAX_RETENTION_DAYS}, not {raw!r}"
        )
    return int(raw)


def parse_key_ring(raw: str, source: str) -> tuple[tuple[str, bytes], ...]:
    """`id:base64key` entries separated by commas or new lines, the current key first."""
    ring: list[tuple[str, bytes]] = []
    for entry in raw.replace("\n", ",").split(","):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True) if sep else b""
        except binascii.Error:
            key = b""
        if not KEY_ID.fullmatch(key_id) or len(key) != 32:
            # Never echo the entry: it is a key.
            raise SettingsError(
                f"{source}: each key is `id:base64` with an id of 1 to 16 letters, digits, _ or -"
                " and 32 bytes of key (base64 of 44 characters)"
            )
        if key_id in dict(ring):
            raise SettingsError(f"{source}: the key id {key_id!r} appears twice")
        ring.append((key_id, key))
    if not ring:
        raise SettingsError(f"{source} holds no key")
    return tuple(ring)


def new_key_entry(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def _cipher_keys(env: dict[str, str], data_dir: Path) -> tuple[tuple[str, bytes], ...]:
    raw = env.get("TRACKING_CIPHER_KEYS", "").strip()
    if raw:
        return parse_key_ring(raw, "TRACKING_CIPHER_KEYS")
    # The embedded setup: a key file beside secret.key, created on first use, one entry a line.
    path = data_dir / CIPHER_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written whole, then linked into place: a process starting at the same moment reads
        # either no file or a complete one, and the first link wins.
        tmp = data_dir / f".{CIPHER_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key_entry("k1") + "\n")
        try:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    return parse_key_ring(path.read_text(), str(path))


def _days(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= quarantine.MAX_LENGTH_DAYS:
        raise SettingsError(
            f"{name} must be a whole number of days from 1 to {quarantine.MAX_LENGTH_DAYS}, "
            f"not {raw!r}"
        )
    return int(raw)


def _test_days(env: dict[str, str], name: str) -> tuple[int, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return quarantine.DEFAULT_TEST_DAYS
    parts = [p.strip() for p in raw.split(",")]
    if not all(p.isdigit() and 1 <= int(p) <= quarantine.MAX_LENGTH_DAYS for p in parts):
        raise SettingsError(
            f"{name} must list days of the order from 1 to {quarantine.MAX_LENGTH_DAYS}, "
            f"separated by commas (e.g. 1,4,7,14), not {raw!r}"
        )
    return tuple(sorted({int(p) for p in parts}))


def _hours(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) * 60 <= MAX_THRESHOLD_MINUTES:
        raise SettingsError(
            f"{name} must be a whole number of hours from 1 to {MAX_THRESHOLD_MINUTES // 60}, "
            f"not {raw!r}"
        )
    return int(raw)


def _minutes(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= MAX_THRESHOLD_MINUTES:
        raise SettingsError(
            f"{name} must be a whole number of minutes from 1 to {MAX_THRESHOLD_MINUTES}, "
            f"not {raw!r}"
        )
    return value


def _count(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise SettingsError(f"{name} must be a whole number from 1 to 1000000, not {raw!r}")
    return int(raw)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= 3600:  # also rejects nan
        raise SettingsError(f"{name} must be a number of seconds from 0.1 to 3600, not {raw!r}")
    return value


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _local_secret(data_dir: Path) -> bytes:
    """A per-installation secret kept beside the embedded database (created on first use)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
