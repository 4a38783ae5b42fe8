"""Personal data sealed per journey, so that destroying one key erases one traveller.

Events carry only ciphertext of identity, contact and health details; the key lives in its
own table. Deleting the key leaves the events (and the counts built from them) but nothing
readable about the person.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import RuleBroken
from tracking.sidestore import SideStore

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS personal_data_keys ("
    " subject_id TEXT PRIMARY KEY, data_key BYTEA NOT NULL)"
)
ERASED: dict[str, Any] = {"erased": True}
# What an erased traveller's details read as wherever a name is shown (console, board detail,
# manifests, door labels, exports): that they were erased, and nothing else.
ERASED_DETAILS: dict[str, Any] = ERASED | {"name_native": "（已删除）", "name_latin": "(erased)"}


class PersonalDataVault:
    def __init__(self, store: SideStore) -> None:
        self.store = store

    def create_table(self) -> None:
        schema = SCHEMA if self.store.is_postgres else SCHEMA.replace("BYTEA", "BLOB")
        with self.store.transaction() as cur:
            cur.execute(schema)

    @staticmethod
    def new_key() -> bytes:
        """A key for a new subject; the caller saves it with the events (`personal_keys`)."""
        return AESGCM.generate_key(bit_length=256)

    def seal(self, subject_id: UUID, data: dict[str, Any], key: bytes | None = None) -> str:
        key = key or self._key(subject_id)
        if key is None:
            # Its key was destroyed (erasure): nothing new about the person may be recorded
            # readable, and nothing unreadable is worth recording (409, not a server error).
            raise RuleBroken("this traveller's personal data was erased: nothing more can be "
                             "recorded about them")
        nonce = os.urandom(12)
        plaintext = json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
        sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, subject_id.bytes)
        return "v1:" + base64.b64encode(sealed).decode()

    def open(self, subject_id: UUID, sealed: str) -> dict[str, Any]:
        return self.opener(subject_id)(sealed)

    def opener(self, subject_id: UUID) -> Callable[[str], dict[str, Any]]:
        """Opens many sealed values of one subject with one read of its key."""
        key = self._key(subject_id)

        def open_one(sealed: str) -> dict[str, Any]:
            return _open(subject_id, key, sealed)

        return open_one

    def forget(self, subject_id: UUID) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM personal_data_keys WHERE subject_id = ?", (str(subject_id),))

    def _key(self, subject_id: UUID) -> bytes | None:
        with self.store.transaction(write=False) as cur:
            cur.execute(
                "SELECT data_key FROM personal_data_keys WHERE subject_id = ?", (str(subject_id),)
            )
            row = cur.fetchone()
        return None if row is None else bytes(row[0])


def _open(subject_id: UUID, key: bytes | None, sealed: str) -> dict[str, Any]:
    if key is None or not sealed.startswith("v1:"):
        return dict(ERASED)
    raw = base64.b64decode(sealed[3:])
    plaintext = AESGCM(key).decrypt(raw[:12], raw[12:], subject_id.bytes)
    data: dict[str, Any] = json.loads(plaintext)
    return data
