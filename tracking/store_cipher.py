"""The store-wide cipher: every stored event's state is encrypted with a key of a key ring.

This is the library's cipher strategy (eventsourcing's `Cipher`, AES-GCM as its AESCipher)
with rotation: each ciphertext starts with the id of the key that sealed it, new events are
sealed with the ring's first (current) key, and every key still in the ring decrypts. The
per-traveller keys (tracking/vault.py) seal personal fields inside the state beneath it, so a
holder of this key still reads nothing of an erased traveller.

Layout: 1 byte id length, the id (ASCII), a 12-byte nonce, then AES-GCM ciphertext and tag.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Cipher
from eventsourcing.utils import Environment

from tracking.settings import Settings, parse_key_ring

# The library's environment key our store_env fills (tracking/persistence.py).
RING_ENV = "CIPHER_KEYS"
NONCE = 12


class KeyRingCipher(Cipher):
    def __init__(self, environment: Environment) -> None:
        raw = environment.get(RING_ENV)
        if not raw:
            raise OSError(f"{RING_ENV!r} not in env")
        self._setup(parse_key_ring(raw, "the store cipher's key ring"))

    @classmethod
    def of_ring(cls, ring: Sequence[tuple[str, bytes]]) -> KeyRingCipher:
        cipher = cls.__new__(cls)
        cipher._setup(ring)
        return cipher

    def _setup(self, ring: Sequence[tuple[str, bytes]]) -> None:
        # One AESGCM per key, made once: building it costs more than sealing a small event.
        self._aeads = {key_id.encode(): AESGCM(key) for key_id, key in ring}
        current = ring[0][0].encode()
        self.current_id = current.decode()
        self._current = self._aeads[current]
        self._header = bytes([len(current)]) + current

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return self._header + nonce + self._current.encrypt(nonce, plaintext, None)

    def decrypt(self, ciphertext: bytes) -> bytes:
        ciphertext = bytes(ciphertext)  # memoryview from psycopg's binary rows
        n = ciphertext[0] if ciphertext else 0
        key_id = ciphertext[1 : 1 + n]
        aead = self._aeads.get(key_id)
        if aead is None or len(ciphertext) < 1 + n + NONCE + 16:
            raise ValueError(
                f"stored state sealed with key {key_id.decode(errors='replace')!r}, which is not"
                " in the key ring (TRACKING_CIPHER_KEYS or the data dir's cipher.keys)"
            )
        body = ciphertext[1 + n :]
        try:
            return aead.decrypt(body[:NONCE], body[NONCE:], None)
        except InvalidTag as e:
            raise ValueError("stored state does not open with its key (damaged)") from e

    @staticmethod
    def key_id_of(ciphertext: bytes) -> str:
        n = ciphertext[0]
        return bytes(ciphertext[1 : 1 + n]).decode()


def store_cipher(settings: Settings) -> KeyRingCipher:
    """The cipher for reading stored state directly (the projector, tools, tests)."""
    return KeyRingCipher.of_ring(settings.cipher_keys)
