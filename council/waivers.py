"""Waivers: approved, time-limited exceptions to a gate, in both CAWS format generations.

v10 waivers carry `applies_to`, `delta` (budget raise), `reason_code`, `risk_owner` and
`approvers[{handle, approved_at}]`; v11 wraps them in an envelope with `title`, `status`,
`reason`, `approved_by` (a string), `created_at`, `expires_at`, `scope.spec_id` and
`revocation`. A migrated waiver has both. Ids follow the CAWS kernel's pattern (`WV-0001`,
`CAWS-HOOKPACK-UPGRADE-RETROFIT-001-SCOPE-CONCURRENCY-01`). How a waiver *file* is checked
is in `council.waiver_files`; this model is what the judges use, for files and for the
database's waivers alike. Whether a waiver can be used is always judged at a `now` the
caller passes: this module has no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from council.policy import Budget, Policy
from council.problems import Problem, SpecInvalid, problems_from_validation_error

WaiverStatus = Literal["proposed", "active", "expired", "revoked"]
BUDGET_GATE = "budget_limit"
# The CAWS kernel's waiver id (waiver/validate.ts): the shape of a spec id, so that a
# waiver's file name can be its id.
WAIVER_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-\d+[a-z]?$"
_END_OF_DAY = time(23, 59, 59, 999_999, tzinfo=UTC)


def as_utc(value: Any) -> Any:
    """Datetimes without a zone are UTC; a bare date means the end of that day, UTC.

    CAWS writes `expires_at: '2025-12-31'`: a waiver valid "until the 31st" is still
    valid during the 31st.
    """
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, _END_OF_DAY)
    return value


# Before: a bare date becomes the end of that day. After: a parsed naive datetime gets UTC.
UtcDatetime = Annotated[datetime, BeforeValidator(as_utc), AfterValidator(as_utc)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Approver(_Open):
    handle: str = Field(min_length=1, max_length=200)
    approved_at: UtcDatetime | None = None


class Delta(_Open):
    max_files: int = Field(default=0, ge=0)
    max_loc: int = Field(default=0, ge=0)


class Revocation(_Open):
    revoked_at: UtcDatetime | None = None
    revoked_by: str | None = None
    reason: str | None = None


class WaiverScope(_Open):
    # v11: the spec the waiver is for; absent, CAWS applies it project-wide.
    spec_id: str | None = None


class Waiver(_Open):
    id: str = Field(pattern=WAIVER_ID_PATTERN, max_length=200)
    status: WaiverStatus
    gates: list[str] = Field(default_factory=list, max_length=50)
    title: str | None = None
    reason: str | None = None
    reason_code: str | None = None
    description: str | None = None
    # v11 names one approver as a string; v10 lists approvers with handles.
    approved_by: str | list[str] | None = None
    approvers: list[Approver] = Field(default_factory=list, max_length=50)
    risk_owner: str | None = None
    applies_to: str | list[str] | None = None
    delta: Delta | None = None
    created_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
    revocation: Revocation | None = None
    scope: WaiverScope | None = None

    def approver_handles(self) -> set[str]:
        """Distinct approvers, compared case-insensitively (handles and emails)."""
        names = [a.handle for a in self.approvers]
        if isinstance(self.approved_by, str):
            names.append(self.approved_by)
        elif isinstance(self.approved_by, list):
            names.extend(self.approved_by)
        return {n.strip().casefold() for n in names if n and n.strip()}

    def owners(self) -> set[str]:
        """Who asked for the waiver: its risk owner or creator (whatever the format names)."""
        extra = self.model_extra or {}
        names = [self.risk_owner, extra.get("created_by"), extra.get("requested_by")]
        return {n.strip().casefold() for n in names if isinstance(n, str) and n.strip()}

    def raises_budget(self) -> bool:
        return self.delta is not None and (self.delta.max_files > 0 or self.delta.max_loc > 0)

    def targets(self) -> list[str]:
        """The specs the waiver is for: v10 `applies_to`, v11 `scope.spec_id`."""
        if self.applies_to is None:
            named = []
        elif isinstance(self.applies_to, str):
            named = [self.applies_to]
        else:
            named = list(self.applies_to)
        if self.scope is not None and self.scope.spec_id and self.scope.spec_id not in named:
            named.append(self.scope.spec_id)
        return named


class WaiverInvalid(SpecInvalid):
    what = "waiver"


def parse_waiver(data: Mapping[str, Any]) -> Waiver:
    """Validate a waiver of either generation; raise WaiverInvalid listing every problem."""
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise WaiverInvalid([Problem(path="", message=f"a waiver must be a mapping, got {kind}")])
    try:
        return Waiver.model_validate(dict(data))
    except ValidationError as exc:
        raise WaiverInvalid(problems_from_validation_error(exc)) from None


def waiver_problems(
    waiver: Waiver,
    *,
    now: datetime,
    policy: Policy,
    spec_id: str | None = None,
    risk_tier: int | None = None,
) -> list[str]:
    """Every reason the waiver cannot be used now (empty: usable).

    Without `risk_tier` the approver count is held to the strictest tier's requirement.
    """
    now = as_utc(now)
    problems: list[str] = []
    if waiver.status != "active":
        problems.append(_status_problem(waiver))
    if waiver.expires_at is None:
        problems.append("it has no expires_at; a waiver must expire")
    elif waiver.expires_at <= now:
        problems.append(f"it expired at {waiver.expires_at.isoformat()}")
    owners = waiver.owners()
    approvers = waiver.approver_handles()
    independent = approvers - owners
    if approvers and not independent:
        problems.append("it is self-approved: approved only by its own risk owner/creator")
    elif not approvers:
        problems.append("it has no approvers")
    if waiver.raises_budget():
        need = policy.min_approvers(risk_tier)
        if len(independent) < need:
            problems.append(
                f"it raises the budget with {len(independent)} independent approver(s); "
                f"the policy requires {need}"
            )
    targets = waiver.targets()
    if spec_id is not None and targets and spec_id not in targets:
        problems.append(f"it applies to {', '.join(targets)}, not {spec_id}")
    return problems


def _status_problem(waiver: Waiver) -> str:
    if waiver.status == "revoked":
        detail = ""
        if waiver.revocation is not None:
            by = f" by {waiver.revocation.revoked_by}" if waiver.revocation.revoked_by else ""
            at = waiver.revocation.revoked_at
            detail = f"{by}{f' at {at.isoformat()}' if at else ''}"
        return f"its status is revoked{detail}"
    if waiver.status == "expired":
        return "its status is expired"
    return f"its status is {waiver.status}, not yet active"


def usable_waivers(
    waivers: Iterable[Waiver],
    *,
    now: datetime,
    policy: Policy,
    spec_id: str | None = None,
    risk_tier: int | None = None,
) -> list[Waiver]:
    return [
        w
        for w in waivers
        if not waiver_problems(w, now=now, policy=policy, spec_id=spec_id, risk_tier=risk_tier)
    ]


def effective_budget(
    policy: Policy,
    tier: int,
    waivers: Iterable[Waiver],
    *,
    now: datetime,
    spec_id: str | None = None,
) -> Budget:
    """The tier's budget plus the deltas of usable waivers that waive `budget_limit`."""
    base = policy.budget(tier)
    files, loc = base.max_files, base.max_loc
    for waiver in usable_waivers(waivers, now=now, policy=policy, spec_id=spec_id, risk_tier=tier):
        if BUDGET_GATE in waiver.gates and waiver.delta is not None:
            files += waiver.delta.max_files
            loc += waiver.delta.max_loc
    return Budget(max_files=files, max_loc=loc)
