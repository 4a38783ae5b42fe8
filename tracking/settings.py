"""Where the store is and which secrets to use, read once from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_DATA_DIR = Path("data")


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
    )


def _local_secret(data_dir: Path) -> bytes:
    """A per-installation secret kept beside the embedded database (created on first use)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
