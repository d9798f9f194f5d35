"""Task metrics: starts and ends, time in each phase, time waiting for a human, human
interventions, and the council's verdicts.

Observed where the transitions are stored (agency.metrics.task_records, called by the
`record` activity), never in workflow code: a workflow is replayed, and a counter
incremented there would count every replay again.

Every label takes its values from a closed vocabulary (phases, judges, verdicts, the
CAWS modes, interventions), kept closed by agency.metrics.labels: no task id, no actor.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from agency.metrics.labels import values_of
from council.models import JudgeName, Outcome, Stage, Verdict
from council.spec import ExecutionMode, Mode
from domain.interventions import INTERVENTION_KINDS
from domain.phases import TERMINAL_PHASES, Phase

PHASES = values_of(Phase)
TERMINAL = frozenset(TERMINAL_PHASES)
MODES = values_of(Mode)
EXECUTION_MODES = values_of(ExecutionMode)
RISK_TIERS = frozenset({"1", "2", "3"})
JUDGES = values_of(JudgeName)
VERDICTS = values_of(Verdict)
STAGES = values_of(Stage)
OUTCOMES = values_of(Outcome)
INTERVENTIONS = frozenset(INTERVENTION_KINDS)
INTERVENTION_SOURCES = frozenset({"api", "temporal_cli"})

# Seconds in a phase: validation and reviews take well under a second, an agent minutes,
# a wait for approval up to the approval timeout (a day by default).
PHASE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
APPROVAL_BUCKETS = (1, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, 259200)

TASK_LABELS = ["risk_tier", "mode", "execution_mode"]

TASKS_STARTED = Counter(
    "agency_tasks_started",
    "Tasks whose workflow began (its first record stored), by risk tier, CAWS mode and "
    "execution mode.",
    TASK_LABELS,
)
TASKS_FINISHED = Counter(
    "agency_tasks_finished",
    "Tasks that reached a terminal phase, by outcome (completed, failed, rejected, "
    "canceled), risk tier, CAWS mode and execution mode.",
    ["outcome", *TASK_LABELS],
)
PHASE_DURATION = Histogram(
    "agency_task_phase_duration_seconds",
    "Time a task spent in a phase (workflow time, from entering it to entering the next).",
    ["phase"],
    buckets=PHASE_BUCKETS,
)
APPROVAL_WAIT = Histogram(
    "agency_task_approval_wait_seconds",
    "Time a task waited in awaiting_approval, by how the wait ended (approved: it went on; "
    "rejected, failed (the deadline passed), canceled).",
    ["outcome"],
    buckets=APPROVAL_BUCKETS,
)
INTERVENTIONS_TOTAL = Counter(
    "agency_interventions",
    "Human interventions recorded, by kind, source (api: a named actor, as the API, the "
    "CLI and the dashboard send; temporal_cli: a signal without one) and whether the "
    "workflow accepted it.",
    ["kind", "source", "result"],
)
JUDGE_VERDICTS = Counter(
    "agency_judge_verdicts",
    "Verdicts of the council's judges, by judge, review stage and verdict.",
    ["judge", "stage", "verdict"],
)
COUNCIL_DECISIONS = Counter(
    "agency_council_decisions",
    "Decisions of the council (the four verdicts aggregated), by review stage and outcome.",
    ["stage", "outcome"],
)
