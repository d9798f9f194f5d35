"""The constitution, pure and I/O-free: spec validation, policy and waivers, the four
judges' rules, and verdict aggregation. Callers pass data and `now`; nothing here reads
files, talks to the network or looks at a clock."""

from council.aggregate import decide, weighted_score
from council.caws import EXECUTION_FIELDS, caws_governance, merge_caws_spec
from council.judges import JUDGE_FUNCTIONS, run_all
from council.judges.context import JudgeContext
from council.models import (
    JUDGES,
    ChangedFile,
    Decision,
    Evidence,
    GateResult,
    Judgment,
    Violation,
)
from council.policy import (
    DEFAULT_POLICY,
    Budget,
    Policy,
    PolicyInvalid,
    parse_policy,
)
from council.problems import Problem, SpecInvalid
from council.spec import TaskSpec
from council.validation import parse_task_spec
from council.waivers import (
    Waiver,
    WaiverInvalid,
    effective_budget,
    parse_waiver,
    usable_waivers,
    waiver_problems,
)

__all__ = [
    "DEFAULT_POLICY",
    "EXECUTION_FIELDS",
    "JUDGES",
    "JUDGE_FUNCTIONS",
    "Budget",
    "ChangedFile",
    "Decision",
    "Evidence",
    "GateResult",
    "JudgeContext",
    "Judgment",
    "Policy",
    "PolicyInvalid",
    "Problem",
    "SpecInvalid",
    "TaskSpec",
    "Violation",
    "Waiver",
    "WaiverInvalid",
    "caws_governance",
    "decide",
    "effective_budget",
    "merge_caws_spec",
    "parse_policy",
    "parse_task_spec",
    "parse_waiver",
    "run_all",
    "usable_waivers",
    "waiver_problems",
    "weighted_score",
]
