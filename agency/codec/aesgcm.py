"""AES-256-GCM encryption of Temporal payloads (a PayloadCodec).

An encrypted payload is the whole original payload (metadata and data, serialized as
protobuf) sealed with the current key under a random 96-bit nonce:

    metadata: {"encoding": "binary/encrypted", "encryption-key-id": "<kid>"}
    data:     nonce (12 bytes) || ciphertext || GCM tag (16 bytes)

The kid rides in the clear so that any configured key can decrypt what it encrypted:
that is what makes rotation work. A payload whose encoding is anything else was never
encrypted (written before the codec was on) and decodes as it is. An encrypted payload
whose kid is not configured, or that does not authenticate, is an error naming the kid:
never passed on undecrypted, where it would be read as garbage or, worse, trusted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from agency.codec.keys import CodecKeys

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
TAG_BYTES = 16


class CodecError(ValueError):
    """A payload that cannot be decrypted; the message names its kid."""


class UnknownKeyError(CodecError):
    pass


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: CodecKeys) -> None:
        self.current = keys.current
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.keys.items()}
        self._current_metadata = self.current.encode()

    @property
    def kids(self) -> list[str]:
        return sorted(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        # A fresh random nonce per payload: with 96 random bits, a repeat under one key
        # stays negligible for far more payloads than a key will ever see.
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self._current_metadata},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # never encrypted: histories from before the codec was on
        kid = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKeyError(
                f"payload encrypted with codec key {kid!r}, which is not configured "
                f"(configured: {', '.join(self.kids)}); add it to AGENCY_CODEC_KEYS"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise CodecError(f"payload encrypted with codec key {kid!r} is truncated")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag:
            raise CodecError(
                f"payload encrypted with codec key {kid!r} does not decrypt: the key "
                "configured under that kid is not the one that encrypted it, or the "
                "payload was altered"
            ) from None
        try:
            return Payload.FromString(plain)
        except DecodeError:
            raise CodecError(f"payload under codec key {kid!r} holds no payload") from None
