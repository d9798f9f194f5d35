"""A keystore in a directory under the data dir (the default; see keystore.py).

Layout of the directory (mode 0700):

    keyring.json      kids, statuses, dates and public keys (no private material)
    <kid>.key         the private key of the current kid only, PKCS#8 PEM, mode 0600
    <kid>.pub.pem     every key's public key, for people and JOSE tools
    .lock             serialises changes between processes (worker, API, CLI)

A retired or revoked key's private file is deleted: only the current key can sign.
A private key file that group or others could read is refused, as ssh does.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agency.provenance.keystore import (
    KeyStatus,
    KeystoreError,
    PublicKeyInfo,
    SigningKey,
    b64url,
    b64url_decode,
    kid_for,
    new_signing_key,
    public_pem,
    public_raw,
)

KEYRING = "keyring.json"
LOCK = ".lock"
PRIVATE_MODE = 0o600
DIR_MODE = 0o700


def _now() -> datetime:
    return datetime.now(UTC)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class FileKeystore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # ------------------------------------------------------------------ interface
    def ensure_signing_key(self) -> str:
        with self._locked(exclusive=True):
            ring = self._read()
            if ring["current"] is None:
                return self._new_current(ring)
            return str(ring["current"])

    def signing_key(self) -> SigningKey:
        with self._locked(exclusive=False):
            kid = self._read()["current"]
            if kid is None:
                raise KeystoreError(f"no current signing key in {self.directory}")
            return SigningKey(kid=kid, private_key=self._load_private(kid))

    def public_key(self, kid: str) -> PublicKeyInfo | None:
        entry = self._read()["keys"].get(kid)
        return None if entry is None else self._info(kid, entry)

    def all_keys(self) -> list[PublicKeyInfo]:
        ring = self._read()
        infos = [self._info(kid, entry) for kid, entry in ring["keys"].items()]
        return sorted(infos, key=lambda info: (info.created_at, info.kid))

    def rotate(self) -> PublicKeyInfo:
        with self._locked(exclusive=True):
            ring = self._read()
            old = ring["current"]
            if old is not None:
                ring["keys"][old].update(status="retired", retired_at=_now().isoformat())
                ring["current"] = None
            kid = self._new_current(ring)
            if old is not None:
                self._private_path(old).unlink(missing_ok=True)
            return self._info(kid, ring["keys"][kid])

    def revoke(self, kid: str, reason: str) -> PublicKeyInfo:
        with self._locked(exclusive=True):
            ring = self._read()
            entry = ring["keys"].get(kid)
            if entry is None:
                raise KeystoreError(f"unknown signing key {kid!r}")
            if entry["status"] == "revoked":
                raise KeystoreError(f"signing key {kid} is already revoked")
            entry.update(status="revoked", revoked_at=_now().isoformat(), revoked_reason=reason)
            if ring["current"] == kid:
                # A compromised current key must stop signing at once: replace it.
                ring["current"] = None
                self._new_current(ring)
            else:
                self._write(ring)
            self._private_path(kid).unlink(missing_ok=True)
            return self._info(kid, entry)

    # ------------------------------------------------------------------ storage
    def _private_path(self, kid: str) -> Path:
        return self.directory / f"{kid}.key"

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        # mkdir's mode is filtered by the umask and ignored for an existing directory.
        os.chmod(self.directory, DIR_MODE)

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool) -> Iterator[None]:
        self._prepare_directory()
        fd = os.open(self.directory / LOCK, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> dict[str, Any]:
        path = self.directory / KEYRING
        try:
            ring = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "current": None, "keys": {}}
        except (OSError, ValueError) as err:
            raise KeystoreError(f"{path} is unreadable: {err}") from None
        if not isinstance(ring, dict) or not isinstance(ring.get("keys"), dict):
            raise KeystoreError(f"{path} is not a keyring")
        return ring

    def _write(self, ring: dict[str, Any]) -> None:
        # Write then rename: readers see the old keyring or the new one, never half.
        path = self.directory / KEYRING
        tmp = path.with_name(f".{KEYRING}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(ring, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def _new_current(self, ring: dict[str, Any]) -> str:
        """Generate a key, store its private half (0600) and make it current. Caller locks."""
        key = new_signing_key()
        public = key.public_key()
        kid = kid_for(public)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL with the mode given at creation: the file is never readable by others,
        # not even for an instant, whatever the umask.
        fd = os.open(self._private_path(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        (self.directory / f"{kid}.pub.pem").write_text(public_pem(public), encoding="ascii")
        ring["keys"][kid] = {
            "status": "current",
            "created_at": _now().isoformat(),
            "retired_at": None,
            "revoked_at": None,
            "revoked_reason": None,
            "x": b64url(public_raw(public)),
        }
        ring["current"] = kid
        self._write(ring)
        return kid

    def _load_private(self, kid: str) -> Ed25519PrivateKey:
        path = self._private_path(kid)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise KeystoreError(
                    f"{path} is accessible by group or others (mode {mode:o}); "
                    f"it must be {PRIVATE_MODE:o}"
                )
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as err:
            raise KeystoreError(f"private key of {kid} is unreadable: {err.strerror}") from None
        if not isinstance(key, Ed25519PrivateKey) or kid_for(key.public_key()) != kid:
            raise KeystoreError(f"{path} does not hold the Ed25519 key {kid}")
        return key

    def _info(self, kid: str, entry: dict[str, Any]) -> PublicKeyInfo:
        public = Ed25519PublicKey.from_public_bytes(b64url_decode(str(entry["x"])))
        if kid_for(public) != kid:
            raise KeystoreError(f"keyring entry {kid} holds another key")
        status: KeyStatus = entry["status"]
        return PublicKeyInfo(
            kid=kid,
            status=status,
            public_key=public,
            created_at=_when(entry.get("created_at")) or datetime.fromtimestamp(0, UTC),
            retired_at=_when(entry.get("retired_at")),
            revoked_at=_when(entry.get("revoked_at")),
            revoked_reason=entry.get("revoked_reason"),
        )
