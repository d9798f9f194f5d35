"""Run records on disk: round trip, atomic replacement, unreadable records skipped."""

from __future__ import annotations

from pathlib import Path

from agency.executor.schemas import AgentCommand, ExecuteRequest, RunStatus
from agency.executor.store import REDACTED, RunRecord, RunStore


def record(run_id: str, env: dict[str, str] | None = None) -> RunRecord:
    agent = AgentCommand(argv=["x"], env=env or {})
    req = ExecuteRequest(run_id=run_id, task_id="T", repo="/r", agent=agent)
    status = RunStatus(run_id=run_id, task_id="T", iteration=1, state="running", sandbox="bwrap")
    return RunRecord(status=status, request=req)


def test_records_round_trip_and_bad_ones_are_skipped(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    a = record("a")
    store.save(a)
    a.status.state = "finished"
    store.save(a)  # replaced, not appended
    (tmp_path / "broken.json").write_text("{half")
    loaded = store.load_all()
    assert [r.status.run_id for r in loaded] == ["a"]
    assert loaded[0] == a
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "broken.json"]  # no temp files


def test_agent_env_values_never_reach_the_disk(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.save(record("b", env={"MODEL_API_KEY": "sk-very-secret"}))
    text = (tmp_path / "b.json").read_text()
    assert "sk-very-secret" not in text
    assert store.load_all()[0].request.agent.env == {"MODEL_API_KEY": REDACTED}
