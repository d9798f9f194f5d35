"""Request and response shapes of /api/v1/waivers (CAWS waiver vocabulary)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.schemas import Timestamp
from api.submission_schema import SOLID, SPACE

# The CAWS waiver schema's controlled vocabularies.
ReasonCode = Literal[
    "emergency_hotfix",
    "legacy_integration",
    "experimental_feature",
    "third_party_constraint",
    "performance_critical",
    "security_patch",
    "infrastructure_limitation",
    "architectural_refactor",
    "other",
]
GateName = Literal[
    "budget_limit",
    "spec_completeness",
    "contract_compliance",
    "coverage_threshold",
    "mutation_threshold",
    "security_scan",
    "accessibility_check",
    "performance_budget",
    "scope_boundary",
]
WaiverStatus = Literal["proposed", "active", "expired", "revoked"]


class WaiverDelta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_files: int = Field(default=0, ge=0, le=100_000)
    max_loc: int = Field(default=0, ge=0, le=10_000_000)


# A spec id as given: 1 to 128 characters once surrounding whitespace is stripped.
SPEC_ID = rf"^{SPACE}*{SOLID}(?:[^\u0000]{{0,126}}{SOLID})?{SPACE}*$"
# Waiving budget_limit takes a raise of the budget (a delta), and a delta takes that gate.
BUDGET_RULE: dict[str, object] = {
    "if": {"required": ["gates"], "properties": {"gates": {"contains": {"const": "budget_limit"}}}},
    "then": {
        "required": ["delta"],
        "properties": {
            "delta": {
                "anyOf": [
                    {"required": ["max_files"], "properties": {"max_files": {"minimum": 1}}},
                    {"required": ["max_loc"], "properties": {"max_loc": {"minimum": 1}}},
                ]
            }
        },
    },
    "else": {
        "properties": {
            "delta": {"properties": {"max_files": {"const": 0}, "max_loc": {"const": 0}}}
        }
    },
}


class WaiverCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=BUDGET_RULE)

    title: str = Field(min_length=1, max_length=500)
    reason: str = Field(min_length=10, max_length=4000, description="Why the waiver is needed.")
    reason_code: ReasonCode
    gates: list[GateName] = Field(min_length=1, max_length=9)
    delta: WaiverDelta = Field(default_factory=WaiverDelta, description="Budget raise.")
    applies_to: list[Annotated[str, Field(pattern=SPEC_ID)]] = Field(
        min_length=1, max_length=50, description="CAWS spec ids the waiver may be used by."
    )
    risk_owner: str = Field(min_length=1, max_length=200)
    risk_tier: int | None = Field(
        default=None, ge=1, le=3, description="Tier whose approver count applies (default 1)."
    )
    expires_at: Timestamp = Field(description="When it lapses; must be in the future.")

    @field_validator("applies_to")
    @classmethod
    def _spec_ids(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v or len(v) > 128 for v in cleaned):
            raise ValueError("each spec id must be 1 to 128 characters")
        return cleaned

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _delta_goes_with_budget(self) -> WaiverCreate:
        raises = self.delta.max_files > 0 or self.delta.max_loc > 0
        if raises and "budget_limit" not in self.gates:
            raise ValueError("a budget delta needs the budget_limit gate")
        if "budget_limit" in self.gates and not raises:
            raise ValueError("waiving budget_limit needs a delta (max_files or max_loc)")
        return self


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=4000)


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=4000)


class WaiverApprovalPublic(BaseModel):
    approver: str
    approved_at: datetime
    comment: str


class Waiver(BaseModel):
    id: str
    title: str
    reason: str
    reason_code: str
    gates: list[str]
    delta: WaiverDelta
    applies_to: list[str]
    risk_owner: str
    risk_tier: int | None
    created_by: str
    status: WaiverStatus
    created_at: datetime
    expires_at: datetime
    activated_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    approvals: list[WaiverApprovalPublic]
    # How many independent approvals the current policy requires to make it active.
    required_approvals: int


class WaiverFileProblem(BaseModel):
    path: str = Field(description="The field of the waiver file ('' for the whole file)")
    message: str
    rule: str | None = Field(description="The CAWS kernel's rule id (`waiver.schema.*`)")


class WaiverFilePublic(BaseModel):
    """A waiver file of the waivers directory (AGENCY_WAIVERS_DIR), checked as CAWS checks
    it. An invalid one is set aside: only a task that cites it is refused."""

    file: str = Field(description="The file's name in the waivers directory")
    id: str | None = Field(description="Its id (from the file, else its file name)")
    format: Literal["v10", "v11", "unknown"]
    status: str | None
    valid: bool
    problems: list[WaiverFileProblem] = Field(
        default_factory=list, description="Each broken rule, with the CAWS kernel's rule id"
    )


class WaiverList(BaseModel):
    items: list[Waiver]
    files: list[WaiverFilePublic] = Field(
        default_factory=list,
        description="The waiver files of the waivers directory, valid or not (unfiltered)",
    )
