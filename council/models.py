"""Value types the council reasons about: violations, judgments, evidence and decisions.

Everything here is plain data (pydantic models) so that judgments can travel through
Temporal's pydantic data converter and into the database unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["critical", "high", "medium", "low"]
Verdict = Literal["pass", "fail", "uncertain"]
JudgeName = Literal["constitutional", "technical", "quality", "integration"]
Stage = Literal["plan", "result"]
Outcome = Literal["approve", "reject", "refine", "escalate"]

JUDGES: tuple[JudgeName, ...] = ("constitutional", "technical", "quality", "integration")


class Violation(BaseModel):
    rule: str = Field(max_length=100)
    severity: Severity
    detail: str = Field(max_length=2000)


class Judgment(BaseModel):
    judge: JudgeName
    verdict: Verdict
    confidence: float = Field(ge=0.0, le=1.0)
    violations: list[Violation] = Field(default_factory=list)
    rationale: str = Field(default="", max_length=4000)
    # Written assessment from the optional model; advisory unless the policy says otherwise.
    assessment: str | None = Field(default=None, max_length=8000)


class ChangedFile(BaseModel):
    path: str = Field(max_length=4096)
    added: int = Field(ge=0)
    removed: int = Field(ge=0)
    status: Literal["added", "modified", "deleted", "renamed"] = "modified"
    binary: bool = False


class GateResult(BaseModel):
    name: str = Field(max_length=100)
    argv: list[str] = Field(default_factory=list)
    exit_code: int | None = None
    passed: bool
    timed_out: bool = False
    duration_s: float = 0.0
    output_tail: str = Field(default="", max_length=20_000)
    covers: list[str] = Field(default_factory=list)


class Evidence(BaseModel):
    """What the judges see. At the plan stage only the spec is known (no execution)."""

    stage: Stage
    agent_exit_code: int | None = None
    agent_timed_out: bool = False
    changed_files: list[ChangedFile] = Field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    gates: list[GateResult] = Field(default_factory=list)
    # Lines added by the change, per path. Built inside the judge activity from the diff
    # artifact; never carried through workflow history.
    added_lines: dict[str, list[str]] = Field(default_factory=dict)


class Decision(BaseModel):
    outcome: Outcome
    score: float
    threshold: float
    reasons: list[str] = Field(default_factory=list)
    vetoes: list[Violation] = Field(default_factory=list)
