"""Technical judge, rule by rule. Secret and marker samples are assembled at run time so
this file itself carries none."""

from __future__ import annotations

from pathlib import Path

import pytest

from council.judges import technical
from council.judges.context import JudgeContext
from council.models import Evidence, Judgment
from council.policy import parse_policy
from council.spec import AgentSpec
from tests.council.factories import (
    changed,
    gate,
    make_ctx,
    make_spec,
    plan_evidence,
    result_evidence,
    rules,
    severity_of,
)

COUNCIL_DIR = Path(__file__).parents[3] / "council"


def judged(ctx: JudgeContext) -> Judgment:
    return technical.judge(ctx)


def adding(path: str, *lines: str) -> Evidence:
    return result_evidence(
        changed_files=[changed(path, len(lines), 0)], added_lines={path: list(lines)}
    )


def test_clean_result_and_plan_pass() -> None:
    for evidence in (result_evidence(), plan_evidence()):
        j = judged(make_ctx(evidence=evidence))
        assert (j.verdict, j.violations) == ("pass", [])


# ---------------------------------------------------------------------- agent
def test_agent_nonzero_exit_is_high() -> None:
    j = judged(make_ctx(evidence=result_evidence(agent_exit_code=2)))
    assert severity_of(j, "agent_failed") == "high"
    assert "code 2" in j.violations[0].detail
    assert j.verdict == "fail"


def test_agent_timeout_is_high() -> None:
    j = judged(make_ctx(evidence=result_evidence(agent_exit_code=None, agent_timed_out=True)))
    assert rules(j) == {"agent_timed_out"}
    assert severity_of(j, "agent_timed_out") == "high"


def test_agent_exit_unknown_is_medium() -> None:
    j = judged(make_ctx(evidence=result_evidence(agent_exit_code=None)))
    assert severity_of(j, "agent_exit_unknown") == "medium"


# ---------------------------------------------------------------------- gates
def test_failed_gate_is_high_by_default() -> None:
    evidence = result_evidence(gates=[gate("tests", passed=False)])
    j = judged(make_ctx(evidence=evidence))
    assert severity_of(j, "gate_failed") == "high"
    assert "'tests'" in j.violations[0].detail


def test_failed_gate_in_warn_mode_is_medium() -> None:
    policy = parse_policy({"gates": {"tests": {"enabled": True, "mode": "warn"}}})
    evidence = result_evidence(gates=[gate("tests", passed=False)])
    j = judged(make_ctx(policy=policy, evidence=evidence))
    assert severity_of(j, "gate_failed") == "medium"
    assert j.verdict == "uncertain"


def test_failed_gate_disabled_in_policy_is_ignored() -> None:
    policy = parse_policy({"gates": {"tests": {"enabled": False}}})
    evidence = result_evidence(gates=[gate("tests", passed=False)])
    assert rules(judged(make_ctx(policy=policy, evidence=evidence))) == set()


def test_timed_out_gate_says_so() -> None:
    evidence = result_evidence(gates=[gate("tests", passed=False, timed_out=True)])
    assert "timed out" in judged(make_ctx(evidence=evidence)).violations[0].detail


def test_declared_gate_without_result_is_missing() -> None:
    gates = [{"name": "tests", "argv": ["pytest"]}, {"name": "lint", "argv": ["ruff"]}]
    j = judged(make_ctx(spec=make_spec(gates=gates)))
    assert rules(j) == {"gate_missing"}
    assert "'lint'" in j.violations[0].detail


def test_no_gates_at_all_is_medium() -> None:
    j = judged(make_ctx(spec=make_spec(gates=[]), evidence=result_evidence(gates=[])))
    assert rules(j) == {"gates_missing"}
    assert severity_of(j, "gates_missing") == "medium"


# ---------------------------------------------------------------------- secrets
PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----"
OPENSSH_KEY = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
AWS_KEY = 'aws_id = "' + "AKIA" + "IOSFODNN7EXAMPLE" + '"'
GITHUB_TOKEN = "token=" + "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PASSWORD = 'db_password = "' + "hunter2hunter2" + '"'
API_KEY_JSON = '"api_key": "' + "sk-live-0123456789" + '"'
TYPED_SECRET = 'CLIENT_SECRET: str = "' + "abcdef123456" + '"'


@pytest.mark.parametrize(
    "line", [PRIVATE_KEY, OPENSSH_KEY, AWS_KEY, GITHUB_TOKEN, PASSWORD, API_KEY_JSON, TYPED_SECRET]
)
def test_secret_in_added_line_is_critical(line: str) -> None:
    j = judged(make_ctx(evidence=adding("src/http/config.py", "x = 1", line)))
    assert severity_of(j, "secret_added") == "critical"
    detail = j.violations[0].detail
    assert "src/http/config.py" in detail
    assert "added line 2" in detail
    assert line not in detail  # the verdict never copies the secret


@pytest.mark.parametrize(
    "line",
    [
        'password = os.environ["DB_PASSWORD"]',
        'api_key = ""',
        'password = "${DB_PASSWORD}"',
        "token_count = 5",
        'if password == "expected1":',
        "# rotate the secret key yearly",
        "AKIA-not-a-key",
    ],
)
def test_lookalikes_are_not_secrets(line: str) -> None:
    assert rules(judged(make_ctx(evidence=adding("src/http/config.py", line)))) == set()


def test_secret_only_counts_in_added_lines() -> None:
    # Removed lines and untouched files are not in added_lines: nothing to report.
    evidence = result_evidence(changed_files=[changed("src/http/config.py", 0, 3)], added_lines={})
    assert rules(judged(make_ctx(evidence=evidence))) == set()


# ---------------------------------------------------------------------- placeholders
MARKER_LINES = [
    "# " + "TO" + "DO: handle retries",
    "x = 1  # " + "FIX" + "ME later",
    "# " + "X" + "XX this is wrong",
    "# " + "HA" + "CK around the bug",
    "    raise " + "NotImpl" + "ementedError",
    "    pass  # stub",
]


@pytest.mark.parametrize("line", MARKER_LINES)
def test_new_placeholder_is_medium(line: str) -> None:
    j = judged(make_ctx(evidence=adding("src/http/client.py", line)))
    assert rules(j) == {"placeholder_added"}
    assert severity_of(j, "placeholder_added") == "medium"
    assert j.verdict == "uncertain"


@pytest.mark.parametrize(
    "line",
    ["todo_items = []", "# Mastodon client", "    pass", "raise ValueError('x')", "hackathon = 1"],
)
def test_non_placeholders_pass(line: str) -> None:
    assert rules(judged(make_ctx(evidence=adding("src/http/client.py", line)))) == set()


def test_council_source_carries_no_markers_of_its_own() -> None:
    marker = technical.UNFINISHED_MARKERS[0][1]
    for path in COUNCIL_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not marker.search(text), path


# ---------------------------------------------------------------------- determinism
def test_unseeded_random_is_low() -> None:
    j = judged(make_ctx(evidence=adding("src/http/jitter.py", "d = random.uniform(0, 1)")))
    assert rules(j) == {"unseeded_random"}
    assert severity_of(j, "unseeded_random") == "low"
    assert j.verdict == "pass"


def test_seeded_random_is_fine() -> None:
    lines = ("rng = random.Random(seed)", "random.seed(7)", "d = random.uniform(0, 1)")
    assert rules(judged(make_ctx(evidence=adding("src/http/jitter.py", *lines)))) == set()


def test_wall_clock_in_test_is_low() -> None:
    evidence = adding("tests/test_retry.py", "start = datetime.now()", "t = time.time()")
    j = judged(make_ctx(evidence=evidence))
    assert rules(j) == {"wall_clock_in_test"}
    assert "added line 1, 2" in j.violations[0].detail


def test_wall_clock_outside_tests_is_fine() -> None:
    assert rules(judged(make_ctx(evidence=adding("src/http/log.py", "t = time.time()")))) == set()


# ---------------------------------------------------------------------- plan stage
def test_plan_without_agent_is_high() -> None:
    spec = make_spec().model_copy(update={"agent": AgentSpec()})
    j = judged(make_ctx(spec=spec, evidence=plan_evidence()))
    assert severity_of(j, "agent_missing") == "high"


def test_plan_without_gates_is_medium() -> None:
    j = judged(make_ctx(spec=make_spec(gates=[]), evidence=plan_evidence()))
    assert rules(j) == {"gates_missing"}
    assert j.verdict == "uncertain"


def test_plan_ignores_result_evidence_rules() -> None:
    # At the plan stage nothing ran: no exit code is not a problem.
    assert rules(judged(make_ctx(evidence=plan_evidence()))) == set()


def test_a_change_holding_a_redacted_secret_is_vetoed_without_naming_the_value() -> None:
    j = judged(make_ctx(evidence=adding("src/config.py", 'TOKEN = "[redacted:API_TOKEN]"')))
    [hit] = [v for v in j.violations if v.rule == "secret_added"]
    assert hit.severity == "critical" and j.verdict == "fail"
    assert "redacted by the executor" in hit.detail and "src/config.py" in hit.detail
