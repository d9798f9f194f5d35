"""The policy: CAWS `policy.yaml` (budgets, waiver rules, gate modes) plus our own knobs.

A CAWS repository's `.caws/policy.yaml` loads as it is; fields we do not use are kept
(`extra="allow"`). Agent Agency's own settings live under an optional `agency:` mapping
so they never collide with CAWS's; every one has a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from council.models import JUDGES, JudgeName
from council.problems import Problem, SpecInvalid, problems_from_validation_error
from council.tiers import TIERS, parse_tier

GateMode = Literal["block", "warn", "skip"]

DEFAULT_BUDGETS: dict[int, tuple[int, int]] = {1: (10, 250), 2: (100, 10_000), 3: (500, 40_000)}
# Dual control, as CAWS ships it: a budget raise needs two approvers.
DEFAULT_MIN_APPROVERS = 2
DEFAULT_WEIGHTS: dict[str, float] = {
    "constitutional": 0.4,
    "technical": 0.2,
    "quality": 0.2,
    "integration": 0.2,
}
DEFAULT_THRESHOLDS: dict[int, float] = {1: 0.8, 2: 0.6, 3: 0.6}
DEFAULT_FORBIDDEN_PATHS: tuple[str, ...] = (
    # the repository's own machinery
    ".git/",
    # CI configuration: a change here changes what checks the change
    ".github/workflows/",
    ".gitlab-ci.yml",
    ".circleci/",
    ".ci/",
    # secrets and credentials
    ".env",
    "*.pem",
    "id_rsa*",
    "*.key",
)

# Our defaults (T1 10 files/250 lines, T2 100/10,000, T3 500/40,000), in the CAWS
# policy.yaml form parse_policy reads.
DEFAULT_POLICY: dict[str, Any] = {
    "version": 1,
    "risk_tiers": {
        str(tier): {"max_files": files, "max_loc": loc}
        for tier, (files, loc) in DEFAULT_BUDGETS.items()
    },
    "waivers": {"min_approvers_for_budget_raise": DEFAULT_MIN_APPROVERS},
    "gates": {},
    "agency": {
        "weights": dict(DEFAULT_WEIGHTS),
        "thresholds": {str(t): v for t, v in DEFAULT_THRESHOLDS.items()},
        "close_call_margin": 0.1,
        "forbidden_paths": list(DEFAULT_FORBIDDEN_PATHS),
        "min_approvers": {},
        "sandbox_network": False,
        "model_assessment_vote": False,
        "coverage_threshold": 80.0,
        "max_top_level_dirs": 3,
    },
}


class Budget(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_files: int = Field(ge=0)
    max_loc: int = Field(ge=0)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TierBudget(_Open):
    max_files: int = Field(ge=1)
    max_loc: int = Field(ge=1)
    description: str | None = None


class EditRules(_Open):
    policy_and_code_same_pr: bool | None = None
    require_signed_commits: bool | None = None
    # Older CAWS policies keep the approver count here; newer ones under `waivers:`.
    min_approvers_for_budget_raise: int | None = Field(default=None, ge=1)


class WaiverRules(_Open):
    min_approvers_for_budget_raise: int | None = Field(default=None, ge=1)


class GateConfig(_Open):
    enabled: bool = True
    mode: GateMode = "block"
    description: str | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)


def _tier_keyed(value: Any, what: str) -> Any:
    """Accept tier keys as 1, "1" or "T1"; leave anything else for the schema to refuse."""
    if not isinstance(value, Mapping):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        tier = parse_tier(key)
        if tier is None:
            raise ValueError(f"{what} keys must be tiers 1, 2 or 3 (or T1..T3), got {key!r}")
        out[tier] = item
    return out


class AgencyKnobs(BaseModel):
    """Our settings. Unknown keys are refused here: a typo must not silently do nothing."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[JudgeName, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    thresholds: dict[int, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    close_call_margin: float = Field(default=0.1, ge=0.0, le=1.0)
    forbidden_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FORBIDDEN_PATHS), max_length=500
    )
    # Approvers a budget-raising waiver needs, per tier; a tier not listed uses CAWS's value.
    min_approvers: dict[int, int] = Field(default_factory=dict)
    sandbox_network: bool = False
    # When true the optional model's assessment counts as a vote; otherwise advisory only.
    model_assessment_vote: bool = False
    # Percent; a gate reporting lower coverage earns a low-severity note from quality.
    coverage_threshold: float = Field(default=80.0, ge=0.0, le=100.0)
    # Blast radius: more distinct top-level directories than this is worth a note.
    max_top_level_dirs: int = Field(default=3, ge=1)

    @field_validator("weights", mode="before")
    @classmethod
    def _merge_weights(cls, value: Any) -> Any:
        # A policy may set one weight; the others keep their defaults.
        return {**DEFAULT_WEIGHTS, **value} if isinstance(value, Mapping) else value

    @field_validator("thresholds", mode="before")
    @classmethod
    def _merge_thresholds(cls, value: Any) -> Any:
        keyed = _tier_keyed(value, "thresholds")
        return {**DEFAULT_THRESHOLDS, **keyed} if isinstance(keyed, Mapping) else keyed

    @field_validator("min_approvers", mode="before")
    @classmethod
    def _tier_approvers(cls, value: Any) -> Any:
        return _tier_keyed(value, "min_approvers")

    @field_validator("weights")
    @classmethod
    def _weights_sane(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must not be negative")
        if sum(value.values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds_sane(cls, value: dict[int, float]) -> dict[int, float]:
        if any(not 0.0 <= v <= 1.0 for v in value.values()):
            raise ValueError("thresholds must be between 0 and 1")
        return value

    @field_validator("min_approvers")
    @classmethod
    def _approvers_sane(cls, value: dict[int, int]) -> dict[int, int]:
        if any(v < 1 for v in value.values()):
            raise ValueError("min_approvers must be at least 1")
        return value


class Policy(_Open):
    version: int = 1
    # Keyed "1".."3" as CAWS writes them (error paths then read `risk_tiers.1.max_loc`).
    risk_tiers: dict[str, TierBudget] = Field(
        default_factory=lambda: {
            str(t): TierBudget(max_files=f, max_loc=loc) for t, (f, loc) in DEFAULT_BUDGETS.items()
        }
    )
    edit_rules: EditRules = Field(default_factory=EditRules)
    waivers: WaiverRules = Field(default_factory=WaiverRules)
    gates: dict[str, GateConfig] = Field(default_factory=dict)
    # CAWS: paths exempt from scope-boundary checks (governance off by design there).
    non_governed_zones: list[str] = Field(default_factory=list)
    agency: AgencyKnobs = Field(default_factory=AgencyKnobs)

    @field_validator("risk_tiers", mode="before")
    @classmethod
    def _tiers(cls, value: Any) -> Any:
        keyed = _tier_keyed(value, "risk_tiers")
        if not isinstance(keyed, Mapping):
            return keyed
        # A policy that lists only some tiers keeps the defaults for the others.
        defaults = {t: {"max_files": f, "max_loc": loc} for t, (f, loc) in DEFAULT_BUDGETS.items()}
        return {str(t): v for t, v in {**defaults, **keyed}.items()}

    def budget(self, tier: int) -> Budget:
        entry = self.risk_tiers[str(tier)]
        return Budget(max_files=entry.max_files, max_loc=entry.max_loc)

    def gate_mode(self, name: str) -> GateMode:
        """How a gate's failure counts; a gate the policy does not mention blocks."""
        config = self.gates.get(name)
        if config is None:
            return "block"
        return config.mode if config.enabled else "skip"

    def min_approvers(self, tier: int | None = None) -> int:
        """Approvers a budget-raising waiver needs; without a tier, the strictest tier's."""
        caws = (
            self.waivers.min_approvers_for_budget_raise
            or self.edit_rules.min_approvers_for_budget_raise
            or DEFAULT_MIN_APPROVERS
        )
        if tier is None:
            return max(self.agency.min_approvers.get(t, caws) for t in TIERS)
        return self.agency.min_approvers.get(tier, caws)

    def threshold(self, tier: int) -> float:
        return self.agency.thresholds[tier]

    def weight(self, judge: JudgeName) -> float:
        return self.agency.weights.get(judge, 0.0)

    def total_weight(self) -> float:
        return sum(self.weight(j) for j in JUDGES)


class PolicyInvalid(SpecInvalid):
    what = "policy"


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Validate a policy (CAWS policy.yaml form); raise PolicyInvalid listing every problem."""
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise PolicyInvalid([Problem(path="", message=f"a policy must be a mapping, got {kind}")])
    try:
        return Policy.model_validate(dict(data))
    except ValidationError as exc:
        raise PolicyInvalid(problems_from_validation_error(exc)) from None


def policy_from_tier_policy(data: Any) -> dict[str, Any]:
    """The older CAWS `.caws/policy/tier-policy.json` in the policy.yaml form.

    That file is keyed by tier ("1".."3"), each with `max_files`/`max_loc` and rigor
    settings (`min_branch`, `min_mutation`, `requires_contracts`, `allowed_modes`, ...).
    The budgets become `risk_tiers`; the rest is kept on each tier, unused (CAWS's own
    loader read this file the same way, as budgets). Anything that is not a mapping is
    returned as is for `parse_policy` to refuse with its path.
    """
    if not isinstance(data, Mapping):
        return {"risk_tiers": data}
    return {"version": 1, "risk_tiers": {str(k): v for k, v in data.items()}}
