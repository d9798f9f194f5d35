"""Secrets: resolved on the host from its operator's sources, given to the agent only,
redacted from everything that leaves the host, out of the sandbox's sight otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from agency.executor.host import HostRuns
from agency.executor.schemas import AgentCommand
from agency.executor.secrets import MissingSecrets, resolve
from council.spec import GateSpec
from tests.agency.executor.conftest import (
    MakeHost,
    finished,
    needs_bwrap,
    request,
    sh,
)

pytestmark = needs_bwrap

TOKEN = "s3cr3t-token-value-1234"


def with_secrets(req_repo: Path, script: str, *names: str, **fields: object):  # type: ignore[no-untyped-def]
    req = request(req_repo, sh(script), **fields)  # type: ignore[arg-type]
    agent = AgentCommand(argv=req.agent.argv, timeout_s=30, secrets=list(names))
    return req.model_copy(update={"agent": agent})


def test_sources_in_order_env_then_directory_then_file(tmp_path: Path) -> None:
    folder = tmp_path / "mounted"
    folder.mkdir()
    (folder / "B").write_text("from-dir\n")
    (folder / "A").write_text("not-this-one")
    dotenv = tmp_path / "secrets.env"
    dotenv.write_text("# comment\nexport C='from file'\nB=not-this-either\n")
    found = resolve(
        ["A", "B", "C"],
        environ={"AGENCY_SECRET_A": "from-env"},
        secrets_dir=folder,
        secrets_file=dotenv,
    )
    assert found == {"A": "from-env", "B": "from-dir", "C": "from file"}


def test_a_missing_secret_is_named_with_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(MissingSecrets) as caught:
        resolve(["HERE", "GONE"], environ={"AGENCY_SECRET_HERE": TOKEN}, secrets_dir=tmp_path)
    message = str(caught.value)
    assert "GONE" in message and "HERE" not in message.split("(")[0].replace("GONE", "")
    assert "$AGENCY_SECRET_<NAME>" in message and str(tmp_path) in message
    assert TOKEN not in message
    assert caught.value.names == ["GONE"]


async def test_the_agent_gets_its_secret_and_nothing_carries_its_value_out(
    make_host: MakeHost, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENCY_SECRET_API_TOKEN", TOKEN)
    host: HostRuns = await make_host()
    script = (
        'printf "%s" "$API_TOKEN" | sha256sum | cut -d" " -f1 > token.sha256; '
        'echo "using $API_TOKEN"; echo "err $API_TOKEN" >&2; echo "$API_TOKEN" > leaked.txt'
    )
    req = with_secrets(repo, script, "API_TOKEN")
    req = req.model_copy(update={"agent": req.agent.model_copy(update={"env": {"MODE": "plain"}})})
    status = await finished(host, req)
    gated = await host.run_gates(
        req.run_id, [GateSpec(name="sees", argv=["sh", "-c", 'echo "gate [$API_TOKEN]"'])]
    )

    import hashlib

    # It reached the agent (the hash of what the agent saw is the hash of the value)...
    files = {f.path for f in status.changed_files}
    assert {"token.sha256", "leaked.txt"} <= files
    expected = hashlib.sha256(TOKEN.encode()).hexdigest()
    assert status.diff is not None and expected.encode() in status.diff
    # ...and out of the host it is a name, never the value: output tails, log files on
    # disk, the diff (a file the agent wrote it into), the gate (which never had it).
    assert status.agent is not None
    assert status.agent.stdout_tail.strip() == "using [redacted:API_TOKEN]"
    assert status.agent.stderr_tail.strip() == "err [redacted:API_TOKEN]"
    assert b"[redacted:API_TOKEN]" in status.diff and TOKEN.encode() not in status.diff
    logs = host.layout.run_logs(req.run_id)
    for path in logs.iterdir():
        assert TOKEN.encode() not in path.read_bytes(), path
    assert gated.gates[0].output_tail.strip() == "gate []"
    assert status.redactions == {"API_TOKEN": 3}
    assert TOKEN not in status.model_dump_json()


async def test_a_missing_secret_fails_the_run_naming_it(make_host: MakeHost, repo: Path) -> None:
    host = await make_host()
    status = await host.execute(with_secrets(repo, "true", "NOT_SET_ANYWHERE"))
    assert status.state == "failed"
    assert status.error is not None and "NOT_SET_ANYWHERE" in status.error
    assert host.active() == 0


async def test_the_sandbox_cannot_read_the_secret_sources(
    make_host: MakeHost, repo: Path, tmp_path: Path
) -> None:
    # Outside /tmp on purpose: /tmp is private in the sandbox anyway, which would hide
    # them whatever the executor does.
    root = Path("/var/tmp") / f"agency-secrets-{tmp_path.name}"
    folder, dotenv = root / "mounted", root / "secrets.env"
    folder.mkdir(parents=True)
    (folder / "DIR_SECRET").write_text(TOKEN)
    dotenv.write_text(f"FILE_SECRET={TOKEN}\n")
    try:
        host = await make_host(secrets_dir=folder, secrets_file=dotenv)
        script = f"cat {folder}/DIR_SECRET {dotenv} 2>&1; echo listing; ls -A {folder}"
        status = await finished(host, with_secrets(repo, script, "DIR_SECRET"))
        assert status.agent is not None
        out = status.agent.stdout_tail
        # The directory is empty in the sandbox, the file unreadable; the value reached
        # the agent through its environment only.
        assert "No such file" in out and TOKEN not in out and "FILE_SECRET" not in out
        assert out.split("listing")[1].strip() == ""
    finally:
        for path in (folder / "DIR_SECRET", folder, dotenv, root):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)


async def test_the_sandbox_cannot_read_the_codec_keys_or_the_temporal_tls_key(
    make_host: MakeHost, repo: Path, tmp_path: Path
) -> None:
    # Where an operator would put them (docs/operations.md), outside the data dir and
    # outside /tmp (private in the sandbox anyway).
    root = Path("/var/tmp") / f"agency-keys-{tmp_path.name}"
    root.mkdir(mode=0o700)
    codec_keys, tls_key = root / "codec-keys.json", root / "client.key"
    for path, text in ((codec_keys, f'{{"k1": "{TOKEN}"}}'), (tls_key, TOKEN)):
        path.write_text(text)
        path.chmod(0o600)
    try:
        host = await make_host(codec_keys_file=codec_keys, temporal_tls_key_file=tls_key)
        status = await finished(host, with_secrets(repo, f"cat {codec_keys} {tls_key} 2>&1"))
        assert status.agent is not None
        out = status.agent.stdout_tail
        assert TOKEN not in out and out.count("cat: ") == 2  # each refused
    finally:
        for path in (codec_keys, tls_key):
            path.unlink(missing_ok=True)
        root.rmdir()
