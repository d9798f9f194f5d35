"""deploy/grafana and deploy/prometheus hold together with the metrics and SLO rules.

- every metric name a PromQL expression uses (Grafana panels, the SLO rules the
  Prometheus config loads) is one our processes export (the families of
  prometheus_client's registry, as the exposition names them), a recording rule of
  `agency slo rules`, or one of Prometheus's own (`up`, `ALERTS`);
- the dashboard is valid JSON with unique panel ids;
- `promtool check config` accepts prometheus.yml, with the rule file it names;
- that rule file is exactly what `agency slo rules` prints for the built-in SLO file;
- the scrape targets use the processes' default ports.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import agency.metrics.executor
import agency.metrics.http
import agency.metrics.inference
import agency.metrics.tasks  # noqa: F401  (each module registers its metrics on import)
from agency.settings import Settings
from agency.slo.rules import rules_document, rules_yaml
from agency.slo.spec import load_slo_file
from tests.support.metrics import promtool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "agency-dashboard.json"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
SLO_RULES = DEPLOY / "prometheus" / "agency-slo-rules.yml"

# Series Prometheus makes itself: target health and the alerts it evaluates.
PROMETHEUS_OWN = {"up", "ALERTS"}
# Words of PromQL that look like names: operators and modifiers.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}  # fmt: skip
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "gauge": ("",),
}


def exported_names() -> set[str]:
    """Every series name the registry's families expose (counters end in _total)."""
    names = set()
    for family in REGISTRY.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def recording_rule_names() -> set[str]:
    document = rules_document(load_slo_file())
    return {r["record"] for g in document["groups"] for r in g["rules"] if "record" in r}


def metric_names(expr: str) -> set[str]:
    """The series names an expression reads: identifiers that are not functions,
    keywords, numbers, label names, grouping labels, durations or Grafana variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values)
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"(?<![\w:.])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?", "", text)  # numbers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end() :].lstrip()
        word = match.group()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def test_the_name_parser_finds_names_and_nothing_else() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (route, le) (rate(agency_http_request_duration_"
        'seconds_bucket{job=~"$api_job", route!="x"}[$__rate_interval]))) / 0.01 '
        "and on (slo) slo:agency_x:error_ratio_rate1h > bool 1e3"
    )
    assert metric_names(expr) == {
        "agency_http_request_duration_seconds_bucket",
        "slo:agency_x:error_ratio_rate1h",
    }


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside
    return found


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in panels(dashboard()) for t in p.get("targets", [])]


def rule_exprs() -> list[str]:
    document = yaml.safe_load(SLO_RULES.read_text())
    return [r["expr"] for g in document["groups"] for r in g["rules"]]


def test_the_dashboard_is_json_with_unique_panel_ids_and_queries() -> None:
    board = dashboard()
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert board["uid"] and board["title"]
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
    exprs = " ".join(dashboard_exprs())
    # What the dashboard is for: each of these metrics has a panel.
    for name in (
        "agency_http_requests_total",
        "agency_http_request_duration_seconds_bucket",
        "agency_tasks_started_total",
        "agency_tasks_finished_total",
        "agency_task_phase_duration_seconds_bucket",
        "agency_task_approval_wait_seconds_bucket",
        "agency_judge_verdicts_total",
        "agency_executor_active_runs",
        "agency_inference_tokens_total",
        "agency_api_dependency_errors_total",
    ):
        assert name in exprs, name
    assert recording_rule_names() & metric_names(exprs)


@pytest.mark.parametrize("source", ["dashboard", "slo rules"])
def test_every_metric_name_used_exists(source: str) -> None:
    known = exported_names() | recording_rule_names() | PROMETHEUS_OWN
    exprs = dashboard_exprs() if source == "dashboard" else rule_exprs()
    assert exprs
    unknown = {name: expr for expr in exprs for name in metric_names(expr) - known}
    assert not unknown, f"names no process exports nor any rule records: {unknown}"


def test_the_committed_slo_rules_are_what_agency_slo_rules_prints() -> None:
    assert SLO_RULES.read_text() == rules_yaml(load_slo_file()), (
        "deploy/prometheus/agency-slo-rules.yml is stale: "
        "`agency slo rules > deploy/prometheus/agency-slo-rules.yml`"
    )


def test_promtool_accepts_the_config_and_its_rule_file() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"] == [SLO_RULES.name]
    done = subprocess.run(
        [promtool(), "check", "config", str(PROMETHEUS)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    report = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, report
    assert "rules found" in report  # the rule file was read and checked too


def test_the_scrape_targets_are_the_processes_default_ports() -> None:
    defaults = Settings.model_fields
    ports = {
        "agency-api": {defaults["api_port"].default},
        "agency-worker": {defaults["worker_metrics_port"].default},
        "agency-executor": {defaults["executor_metrics_port"].default},
        "temporal-sdk": {
            defaults["worker_sdk_metrics_port"].default,
            defaults["executor_sdk_metrics_port"].default,
        },
    }
    config = yaml.safe_load(PROMETHEUS.read_text())
    seen = {}
    for job in config["scrape_configs"]:
        targets = [t for group in job["static_configs"] for t in group["targets"]]
        seen[job["job_name"]] = {int(t.rsplit(":", 1)[1]) for t in targets}
    assert seen == ports


def test_burn_rates_divide_by_the_built_in_slos_error_budgets() -> None:
    objectives = {slo.name: slo.objective for slo in load_slo_file().slos}
    found = set()
    for expr in dashboard_exprs():
        match = re.fullmatch(r"slo:agency_(\w+):error_ratio_rate\w+ / ([0-9.]+)", expr)
        if match:
            name, budget = match.group(1), float(match.group(2))
            assert budget == pytest.approx(1 - objectives[name]), expr
            found.add(name)
    assert found == set(objectives)
