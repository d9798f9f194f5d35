"""The keystore interface: Ed25519 signing keys named by a kid, current, retired or revoked.

Implementations decide where private keys live (a file under the data dir here; an OS
keyring or a cloud KMS could follow). What leaves a keystore is a kid, public keys, and a
signing handle: for a KMS the handle's `sign()` would run remotely and the private key
would never be in this process at all.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agency.provenance.canonical import canonical_json, sha256_hex

KeyStatus = Literal["current", "retired", "revoked"]


class KeystoreError(RuntimeError):
    """The keystore cannot do what was asked; the message says why (never key material)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The RFC 8037 JWK of an Ed25519 public key (required members only)."""
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw(key))}


def kid_for(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256): anyone holding the public key can check that
    a kid names it, and jwcrypto's `JWK.thumbprint()` gives the same string."""
    digest = bytes.fromhex(sha256_hex(canonical_json(public_jwk(key))))
    return b64url(digest)


def new_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key whose kid does not begin with '-'.

    A kid is a base64url thumbprint, so about one key in 64 would get a kid starting with
    '-', which a command line reads as an option (`agency keys revoke-signing -Dx...`:
    "No such option"). The kid must stay the key's thumbprint, so such a key is drawn
    again rather than its kid changed.
    """
    while True:
        key = Ed25519PrivateKey.generate()
        if not kid_for(key.public_key()).startswith("-"):
            return key


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@dataclass(frozen=True)
class PublicKeyInfo:
    kid: str
    status: KeyStatus
    public_key: Ed25519PublicKey
    created_at: datetime
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    def jwk(self) -> dict[str, str]:
        return {**public_jwk(self.public_key), "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def pem(self) -> str:
        return public_pem(self.public_key)

    def public(self) -> dict[str, Any]:
        """Everything about the key that may be shown anywhere."""
        return {
            "kid": self.kid,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_reason": self.revoked_reason,
            "jwk": self.jwk(),
        }


@dataclass(frozen=True)
class SigningKey:
    kid: str
    # A handle whose sign() makes an Ed25519 signature; nothing else about it is used.
    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:  # never print key material, even by accident
        return f"SigningKey(kid={self.kid!r})"


class Keystore(Protocol):
    def ensure_signing_key(self) -> str:
        """Make a current key when there is none (first start); return the current kid."""
        ...

    def signing_key(self) -> SigningKey:
        """The current key, for signing. Raises KeystoreError when there is none."""
        ...

    def public_key(self, kid: str) -> PublicKeyInfo | None:
        """The key a kid names, whatever its status; None when the kid is unknown."""
        ...

    def all_keys(self) -> list[PublicKeyInfo]:
        """Every key, oldest first."""
        ...

    def rotate(self) -> PublicKeyInfo:
        """Make a new current key; the old one is retired (its public key is kept)."""
        ...

    def revoke(self, kid: str, reason: str) -> PublicKeyInfo:
        """Mark a key compromised: nothing it signed verifies any more. Revoking the
        current key makes a new current one."""
        ...
