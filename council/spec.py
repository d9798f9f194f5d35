"""The task a person submits: a CAWS working spec (governance) plus what to run (execution).

Field names follow CAWS (`id`, `risk_tier`, `mode`, `scope.in/out`, `acceptance`,
`waiver_ids`, ...). Every model keeps unknown fields (`extra="allow"`): real CAWS specs
carry many fields we do not use (blast_radius, lifecycle_state, evidence, ...) and those
must be kept and shown, never refused.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from council.problems import GovernanceWarning

Mode = Literal["feature", "refactor", "fix", "doc", "chore"]
ExecutionMode = Literal["strict", "auto", "dry_run"]

MAX_PATHS = 500
MAX_TEXT = 10_000


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Scope(_Open):
    in_: list[str] = Field(default_factory=list, alias="in", max_length=MAX_PATHS)
    out: list[str] = Field(default_factory=list, max_length=MAX_PATHS)
    # CAWS v11: admitted for changes exactly like `in` (still shadowed by `out`).
    support: list[str] = Field(default_factory=list, max_length=MAX_PATHS)

    def admitted(self) -> list[str]:
        return [*self.in_, *self.support]


class ChangeBudget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_files: int = Field(ge=0)
    max_loc: int = Field(ge=0)


class AcceptanceCriterion(_Open):
    id: str = Field(max_length=100)
    given: str = Field(default="", max_length=MAX_TEXT)
    when: str = Field(default="", max_length=MAX_TEXT)
    then: str = Field(default="", max_length=MAX_TEXT)


class AgentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    argv: list[str] | None = Field(default=None, min_length=1, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    prompt: str | None = Field(default=None, max_length=50_000)
    timeout_s: int = Field(default=600, ge=1, le=86_400)
    # Plain settings for the agent; credentials go in `secrets` (refused here).
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    # Names of secrets the agent needs: each executor resolves NAME from its own secret
    # source at run time (AGENCY_SECRET_<NAME> by default) into the agent's environment
    # as NAME. Only names are ever stored, sent or recorded.
    secrets: list[str] = Field(default_factory=list, max_length=50)


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    argv: list[str] = Field(min_length=1, max_length=200)
    timeout_s: int = Field(default=600, ge=1, le=86_400)
    # Acceptance criteria ids this gate is evidence for (quality judge).
    covers: list[str] = Field(default_factory=list, max_length=100)


# Fields of a task that say what to run; everything else is governance (or kept extra).
EXECUTION_FIELDS: frozenset[str] = frozenset(
    {
        "repo",
        "base_ref",
        "target_branch",
        "agent",
        "gates",
        "execution_mode",
        "max_iterations",
        "caws_spec",
    }
)


class TaskSpec(_Open):
    # --- governance: the CAWS working spec ---
    id: str = Field(min_length=1, max_length=128)
    title: str = Field(min_length=1, max_length=500)
    risk_tier: int = Field(ge=1, le=3)
    mode: Mode
    scope: Scope
    invariants: list[str] = Field(default_factory=list, max_length=200)
    acceptance: list[AcceptanceCriterion] = Field(default_factory=list, max_length=200)
    waiver_ids: list[str] = Field(default_factory=list, max_length=50)
    # A v10 spec's own budget: it can only tighten the policy's tier budget, never raise
    # it (CAWS v11 removed it for that reason: raising a budget takes a waiver).
    change_budget: ChangeBudget | None = None
    # --- execution ---
    repo: str = Field(min_length=1, max_length=4096)
    base_ref: str = Field(default="HEAD", min_length=1, max_length=255)
    # Branch the change is committed to; None means the branch base_ref names (or HEAD's).
    target_branch: str | None = Field(default=None, max_length=255)
    agent: AgentSpec
    gates: list[GateSpec] = Field(default_factory=list, max_length=50)
    execution_mode: ExecutionMode = "auto"
    max_iterations: int = Field(default=3, ge=1, le=20)
    # A CAWS spec inside the repo that supplied the governance half (kept for the record).
    caws_spec: str | None = Field(default=None, max_length=4096)
    # Set by the server when it reads the task's governance files (how a v10 spec was
    # mapped, scope entries naming no path, waiver files set aside, where the policy came
    # from); whatever a submitter sends here is replaced.
    warnings: list[GovernanceWarning] = Field(default_factory=list, max_length=500)

    def for_executor(self) -> TaskSpec:
        """The spec as an executor's steps use it (the repository, the agent, the gates),
        without the governance text they never read (invariants, acceptance criteria,
        waivers, the budget, warnings, a CAWS file's other fields). Every iteration's
        run and gates carry it in the workflow's history: whole, a 1 MB spec made 20
        iterations hold about 40 copies, near Temporal's 50 MB limit on a history."""
        return TaskSpec.model_construct(**{name: getattr(self, name) for name in EXECUTOR_FIELDS})


# What for_executor keeps: the fields a TaskSpec requires, and those that say what to run.
EXECUTOR_FIELDS = ("id", "title", "risk_tier", "mode", "scope", *sorted(EXECUTION_FIELDS))
