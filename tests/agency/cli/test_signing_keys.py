from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from typer.testing import CliRunner, Result

from agency.cli.main import app
from agency.provenance import file_keystore
from agency.provenance.file_keystore import FileKeystore
from agency.provenance.keystore import kid_for, new_signing_key


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["keys", *args], env={"AGENCY_DATA_DIR": str(tmp_path)})


def test_signing_keys_are_listed_exported_rotated_and_revoked(tmp_path: Path) -> None:
    empty = run(tmp_path, "list-signing")
    assert empty.exit_code == 0 and "no signing keys yet" in empty.stderr

    first = FileKeystore(tmp_path / "signing-keys").ensure_signing_key()
    pem = run(tmp_path, "export-signing", "--pem")
    assert kid_for(load_pem_public_key(pem.stdout.encode())) == first  # type: ignore[arg-type]
    jwk = json.loads(run(tmp_path, "export-signing", first).stdout)
    assert jwk["kid"] == first and jwk["kty"] == "OKP" and "d" not in jwk

    second = run(tmp_path, "rotate-signing").stdout.strip()
    revoked = run(tmp_path, "revoke-signing", first, "--reason", "old laptop", "--json")
    assert json.loads(revoked.stdout)["status"] == "revoked"
    table = run(tmp_path, "list-signing")
    assert second in table.stdout and "revoked" in table.stdout

    unknown = run(tmp_path, "revoke-signing", "nope", "--reason", "x")
    assert unknown.exit_code == 2 and "unknown signing key" in unknown.stderr
    missing = run(tmp_path, "export-signing", "nope")
    assert missing.exit_code == 2


def test_new_signing_keys_never_have_a_kid_that_reads_as_an_option() -> None:
    # One kid in 64 would begin with '-': over 3,000 draws some surely would have.
    kids = [kid_for(new_signing_key().public_key()) for _ in range(3000)]
    assert not [kid for kid in kids if kid.startswith("-")]
    assert len(set(kids)) == len(kids)


def test_a_kid_beginning_with_a_dash_is_revoked_after_double_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A keyring from before kids were kept from beginning with '-'.
    dashed = next(k for k in iter(Ed25519PrivateKey.generate, None) if _kid(k).startswith("-"))
    # That key once; afterwards (revoking the current key makes a new one) as now.
    first = iter([dashed])
    monkeypatch.setattr(
        file_keystore, "new_signing_key", lambda: next(first, None) or new_signing_key()
    )
    kid = run(tmp_path, "rotate-signing").stdout.strip()
    assert kid == _kid(dashed) and kid.startswith("-")

    as_option = run(tmp_path, "revoke-signing", kid, "--reason", "leaked")
    assert as_option.exit_code == 2 and "No such option" in as_option.output
    revoked = run(tmp_path, "revoke-signing", "--reason", "leaked", "--json", "--", kid)
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)["kid"] == kid
    assert json.loads(revoked.stdout)["status"] == "revoked"


def _kid(key: Ed25519PrivateKey) -> str:
    return kid_for(key.public_key())
