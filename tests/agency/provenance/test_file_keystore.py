from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from jwcrypto import jwk

from agency.provenance.file_keystore import FileKeystore
from agency.provenance.keystore import KeystoreError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_a_private_key_readable_only_by_the_owner(tmp_path: Path) -> None:
    store = FileKeystore(tmp_path / "keys")
    kid = store.ensure_signing_key()

    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / f"{kid}.key") == 0o600
    assert store.ensure_signing_key() == kid  # a second start keeps the key
    assert store.signing_key().kid == kid
    # The keyring holds public material only.
    ring = (tmp_path / "keys" / "keyring.json").read_text()
    assert "PRIVATE" not in ring and json.loads(ring)["current"] == kid


def test_kid_is_the_rfc7638_thumbprint_of_the_public_key(tmp_path: Path) -> None:
    store = FileKeystore(tmp_path / "keys")
    kid = store.ensure_signing_key()
    info = store.public_key(kid)
    assert info is not None
    assert jwk.JWK(**info.jwk()).thumbprint() == kid
    assert repr(store.signing_key()) == f"SigningKey(kid={kid!r})"


def test_rotation_retires_the_old_key_keeping_only_its_public_half(tmp_path: Path) -> None:
    store = FileKeystore(tmp_path / "keys")
    old = store.ensure_signing_key()
    new = store.rotate()

    assert new.kid != old and new.status == "current"
    retired = store.public_key(old)
    assert retired is not None and retired.status == "retired" and retired.retired_at
    assert not (tmp_path / "keys" / f"{old}.key").exists()
    assert (tmp_path / "keys" / f"{old}.pub.pem").exists()
    assert store.signing_key().kid == new.kid
    assert [k.kid for k in store.all_keys()] == [old, new.kid]


def test_revoking_the_current_key_replaces_it(tmp_path: Path) -> None:
    store = FileKeystore(tmp_path / "keys")
    old = store.ensure_signing_key()
    revoked = store.revoke(old, "laptop stolen")

    assert revoked.status == "revoked" and revoked.revoked_reason == "laptop stolen"
    assert store.signing_key().kid != old
    assert not (tmp_path / "keys" / f"{old}.key").exists()
    with pytest.raises(KeystoreError, match="already revoked"):
        store.revoke(old, "again")
    with pytest.raises(KeystoreError, match="unknown signing key"):
        store.revoke("nope", "x")


def test_a_private_key_others_can_read_is_refused(tmp_path: Path) -> None:
    store = FileKeystore(tmp_path / "keys")
    kid = store.ensure_signing_key()
    (tmp_path / "keys" / f"{kid}.key").chmod(0o644)
    with pytest.raises(KeystoreError, match="group or others"):
        store.signing_key()


def test_a_keyring_entry_swapped_for_another_key_is_refused(tmp_path: Path) -> None:
    store = FileKeystore(tmp_path / "keys")
    first = store.ensure_signing_key()
    second = store.rotate().kid
    path = tmp_path / "keys" / "keyring.json"
    ring = json.loads(path.read_text())
    ring["keys"][first]["x"] = ring["keys"][second]["x"]
    path.write_text(json.dumps(ring))
    with pytest.raises(KeystoreError, match="holds another key"):
        store.public_key(first)
