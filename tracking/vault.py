"""Personal data sealed per journey, so that destroying one key erases one traveller.

Events carry only ciphertext of identity, contact and health details; the key lives in its
own table. Deleting the key leaves the events (and the counts built from them) but nothing
readable about the person.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tracking.sidestore import SideStore

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS personal_data_keys ("
    " subject_id TEXT PRIMARY KEY, data_key BYTEA NOT NULL)"
)
ERASED: dict[str, Any] = {"erased": True}


class PersonalDataVault:
    def __init__(self, store: SideStore) -> None:
        self.store = store

    def create_table(self) -> None:
        schema = SCHEMA if self.store.is_postgres else SCHEMA.replace("BYTEA", "BLOB")
        with self.store.transaction() as cur:
            cur.execute(schema)

    def seal(self, subject_id: UUID, data: dict[str, Any]) -> str:
        key = self._key(subject_id, create=True)
        assert key is not None
        nonce = os.urandom(12)
        plaintext = json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
        sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, subject_id.bytes)
        return "v1:" + base64.b64encode(sealed).decode()

    def open(self, subject_id: UUID, sealed: str) -> dict[str, Any]:
        key = self._key(subject_id, create=False)
        if key is None or not sealed.startswith("v1:"):
            return dict(ERASED)
        raw = base64.b64decode(sealed[3:])
        plaintext = AESGCM(key).decrypt(raw[:12], raw[12:], subject_id.bytes)
        data: dict[str, Any] = json.loads(plaintext)
        return data

    def forget(self, subject_id: UUID) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM personal_data_keys WHERE subject_id = ?", (str(subject_id),))

    def _key(self, subject_id: UUID, *, create: bool) -> bytes | None:
        with self.store.transaction(write=create) as cur:
            cur.execute(
                "SELECT data_key FROM personal_data_keys WHERE subject_id = ?", (str(subject_id),)
            )
            row = cur.fetchone()
            if row is not None:
                return bytes(row[0])
            if not create:
                return None
            key = AESGCM.generate_key(bit_length=256)
            cur.execute(
                "INSERT INTO personal_data_keys (subject_id, data_key) VALUES (?, ?)"
                " ON CONFLICT (subject_id) DO NOTHING",
                (str(subject_id), key),
            )
            cur.execute(
                "SELECT data_key FROM personal_data_keys WHERE subject_id = ?", (str(subject_id),)
            )
            return bytes(cur.fetchone()[0])
