"""The SLO file: what each service level objective counts, and how its budget alerts.

One YAML file (`agency/slo/default-slo.yaml`, or the file AGENCY_SLO_FILE names) lists
the SLOs. Each counts *events*, good and total, in two forms that must mean the same:

- `promql`: a selector of counters over the `agency_*` metrics. The Prometheus rules
  (agency/slo/rules.py) take `sum(rate(<selector>[w]))` of it for every window.
- `records`: where the same events are in our own database (agency/slo/records.py), so
  that `agency slo` and `GET /api/v1/slos` can judge an SLO without a Prometheus. An SLO
  without records (the HTTP ones, until the API keeps request counts of its own) is
  judged from samples fed to the evaluator (agency/slo/burn.py) by whoever has them.

Reading the file reports every problem at once (a person fixing it wants them all), with
the path of each, like a task spec (council/problems.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from agency.caws_yaml import CoreLoader
from council.problems import Problem, SpecInvalid, problems_from_validation_error

DEFAULT_SLO_FILE = Path(__file__).with_name("default-slo.yaml")

# Prometheus durations with a single unit: what both PromQL ranges and our windows accept.
_DURATION = re.compile(r"^([1-9][0-9]*)(s|m|h|d|w)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def duration_s(text: str) -> int:
    """'30d' -> 2592000; the format is checked when the file is read."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 5m, 1h or 30d")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def _check_duration(value: str) -> str:
    duration_s(value)
    return value


Duration = Annotated[str, AfterValidator(_check_duration), Field(examples=["5m", "1h", "30d"])]


class _Strict(BaseModel):
    # A misspelt key would otherwise be ignored and the SLO silently mean something else.
    model_config = ConfigDict(extra="forbid", frozen=True)


TaskOutcome = Literal["completed", "failed", "rejected", "canceled"]
ApprovalEnd = Literal["approved", "rejected", "failed", "canceled"]


class TaskOutcomes(_Strict):
    """Tasks that finished with one of `outcomes` (their terminal phase), counted when the
    terminal record was written: what `agency_tasks_finished_total{outcome}` counts."""

    kind: Literal["task_outcomes"]
    outcomes: list[TaskOutcome] = Field(min_length=1)


class ApprovalWaits(_Strict):
    """Waits in `awaiting_approval` that ended one of `outcomes` ways (approved: the task
    went on; rejected; failed: the deadline passed; canceled), counted when the wait
    ended, and only those that lasted at most `max_wait` when set: what
    `agency_task_approval_wait_seconds{outcome}` observes."""

    kind: Literal["approval_waits"]
    outcomes: list[ApprovalEnd] = Field(min_length=1)
    max_wait: Duration | None = None


RecordSource = Annotated[TaskOutcomes | ApprovalWaits, Field(discriminator="kind")]


class Events(_Strict):
    promql: str = Field(
        min_length=1,
        max_length=2000,
        description="a selector of counters; the rules take sum(rate(<it>[window]))",
    )
    records: RecordSource | None = None


class Slo(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    description: str = Field(min_length=1, max_length=2000)
    objective: float = Field(gt=0, lt=1, description="the share of events that must be good")
    window: Duration = Field(description="the period the objective and its budget cover")
    # Below this many events in an alert's long window the alert stays quiet: on a quiet
    # system one failure among three tasks is a 33 % error ratio, not an emergency.
    min_events: int | None = Field(default=None, ge=1)
    good: Events
    total: Events

    @property
    def window_s(self) -> int:
        return duration_s(self.window)

    @property
    def error_budget(self) -> float:
        return 1 - self.objective


class BurnAlert(_Strict):
    """Fire when the burn rate exceeds `burn_rate` over both `long` and `short` (the short
    window makes the alert stop soon after the errors do)."""

    severity: Literal["page", "ticket"]
    long: Duration
    short: Duration
    burn_rate: float = Field(gt=0)


# The Google SRE workbook's multiwindow, multi-burn-rate alerts for a 30-day objective
# ("Alerting on SLOs", table 5-8): 2 % of the budget in an hour or 5 % in six hours pages,
# 10 % in a day or 10 % in three days opens a ticket.
WORKBOOK_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert(severity="page", long="1h", short="5m", burn_rate=14.4),
    BurnAlert(severity="page", long="6h", short="30m", burn_rate=6),
    BurnAlert(severity="ticket", long="1d", short="2h", burn_rate=3),
    BurnAlert(severity="ticket", long="3d", short="6h", burn_rate=1),
)


class SloFile(_Strict):
    min_events: int = Field(default=10, ge=1, description="default of every SLO's min_events")
    alerts: list[BurnAlert] = Field(default_factory=lambda: list(WORKBOOK_ALERTS), min_length=1)
    slos: list[Slo] = Field(min_length=1)

    def min_events_of(self, slo: Slo) -> int:
        return slo.min_events if slo.min_events is not None else self.min_events

    def windows(self) -> list[str]:
        """Every alert window, short to long, once each."""
        found = {w for a in self.alerts for w in (a.long, a.short)}
        return sorted(found, key=duration_s)

    def long_windows(self) -> list[str]:
        return sorted({a.long for a in self.alerts}, key=duration_s)


class SloFileInvalid(SpecInvalid):
    what = "SLO file"


def parse_slo_file(text: str) -> SloFile:
    """The SLO file in `text`, or SloFileInvalid listing every problem."""
    try:
        data = yaml.load(text, Loader=CoreLoader)  # CoreLoader is a SafeLoader
    except yaml.YAMLError as err:
        raise SloFileInvalid([Problem(path="", message=f"not YAML: {err}")]) from None
    if not isinstance(data, dict):
        raise SloFileInvalid([Problem(path="", message="must be a mapping with `slos:`")])
    try:
        slo_file = SloFile.model_validate(data)
    except ValidationError as err:
        raise SloFileInvalid(problems_from_validation_error(err)) from None
    problems = _cross_checks(slo_file)
    if problems:
        raise SloFileInvalid(problems)
    return slo_file


def _cross_checks(slo_file: SloFile) -> list[Problem]:
    """What no single field can check; every problem, not the first."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, slo in enumerate(slo_file.slos):
        if slo.name in seen:
            problems.append(Problem(path=f"slos[{i}].name", message=f"{slo.name!r} twice"))
        seen.add(slo.name)
        good, total = slo.good.records, slo.total.records
        if (good is None) != (total is None) or (
            good is not None and total is not None and good.kind != total.kind
        ):
            problems.append(
                Problem(
                    path=f"slos[{i}]",
                    message="good.records and total.records must both be set, of one kind, "
                    "or both be left out",
                )
            )
        for j, alert in enumerate(slo_file.alerts):
            if duration_s(alert.long) > slo.window_s:
                problems.append(
                    Problem(
                        path=f"slos[{i}].window",
                        message=f"shorter than alerts[{j}].long ({alert.long})",
                    )
                )
    for j, alert in enumerate(slo_file.alerts):
        if duration_s(alert.short) >= duration_s(alert.long):
            problems.append(
                Problem(path=f"alerts[{j}].short", message=f"must be shorter than {alert.long}")
            )
    return problems


def load_slo_file(path: Path | None = None) -> SloFile:
    """The SLO file at `path` (None: the default one), or SloFileInvalid."""
    path = path or DEFAULT_SLO_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SloFileInvalid(
            [Problem(path="", message=f"cannot read {path}: {err.strerror or err}")]
        ) from None
    return parse_slo_file(text)
