from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from typer.testing import CliRunner, Result

from agency.cli.main import app
from agency.provenance.file_keystore import FileKeystore
from agency.provenance.keystore import kid_for


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
