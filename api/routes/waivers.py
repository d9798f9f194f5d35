"""Waivers: propose (operator), approve and revoke (admin), read (viewer).

A waiver becomes active once it has as many independent approvals as the policy requires
for its risk tier; its creator and risk owner cannot approve it, nobody approves twice.
Open waivers past their expiry are marked expired whenever waivers are read or changed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from agency.caws_repo import read_waiver_dir
from agency.db import waivers as store
from agency.db.types import utcnow
from agency.governance_files import GovernanceFileError, load_policy_data
from agency.settings import Settings
from api.deps import AdminDep, OperatorDep, SessionDep, StateDep, ViewerDep
from api.problems import FieldProblem, Problem, ProblemError, invalid, not_found, unavailable
from api.waiver_schemas import (
    ApproveBody,
    RevokeBody,
    Waiver,
    WaiverApprovalPublic,
    WaiverCreate,
    WaiverDelta,
    WaiverFileProblem,
    WaiverFilePublic,
    WaiverList,
    WaiverStatus,
)
from council.policy import DEFAULT_POLICY, Policy, parse_policy
from council.validation import SpecInvalid

router = APIRouter(prefix="/api/v1/waivers", tags=["waivers"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such waiver (in the key's tenant)"},
    409: {"model": Problem, "description": "The step does not apply now; detail says why"},
}
WaiverId = Annotated[str, Path(pattern=r"^WV-\d{1,10}$", description="A waiver id, WV-NNNN")]


def refused(detail: str) -> ProblemError:
    return ProblemError(409, "waiver-refused", "Waiver step refused", detail)


def _policy(settings: Settings) -> Policy:
    try:
        return parse_policy(load_policy_data(settings) or DEFAULT_POLICY)
    except (GovernanceFileError, SpecInvalid) as err:
        raise unavailable(f"the policy cannot be read: {err}") from err


async def _public(session: SessionDep, row: store.WaiverRow, policy: Policy) -> Waiver:
    approvals = await store.list_approvals(session, row.id)
    return Waiver(
        id=row.id,
        title=row.title,
        reason=row.reason,
        reason_code=row.reason_code,
        gates=list(row.gates),
        delta=WaiverDelta(**row.delta),
        applies_to=list(row.applies_to),
        risk_owner=row.risk_owner,
        risk_tier=row.risk_tier,
        created_by=row.created_by,
        status=row.status,  # type: ignore[arg-type]
        created_at=row.created_at,
        expires_at=row.expires_at,
        activated_at=row.activated_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
        approvals=[
            WaiverApprovalPublic(approver=a.approver, approved_at=a.approved_at, comment=a.comment)
            for a in approvals
        ],
        required_approvals=_required(policy, row.risk_tier),
    )


def _required(policy: Policy, risk_tier: int | None) -> int:
    # No tier named: the strictest tier's count (tier 1, the most critical).
    return policy.min_approvers(risk_tier or 1)


@router.post("", status_code=201, response_model=Waiver, responses=RESPONSES)
async def create_waiver(
    state: StateDep, session: SessionDep, principal: OperatorDep, body: WaiverCreate
) -> Waiver:
    now = utcnow()
    if body.expires_at <= now:
        raise invalid([FieldProblem(path="expires_at", message="must be in the future")])
    try:
        row = await store.create_waiver(
            session,
            tenant=principal.tenant,
            title=body.title,
            reason=body.reason,
            reason_code=body.reason_code,
            gates=body.gates,
            delta=body.delta.model_dump(),
            applies_to=body.applies_to,
            risk_owner=body.risk_owner,
            risk_tier=body.risk_tier,
            created_by=principal.actor,
            expires_at=body.expires_at,
            now=now,
        )
    except store.WaiverRefused as err:
        raise refused(str(err)) from err
    return await _public(session, row, _policy(state.settings))


@router.get("", response_model=WaiverList)
async def list_waivers(
    state: StateDep,
    session: SessionDep,
    principal: ViewerDep,
    status: WaiverStatus | None = None,
    applies_to: Annotated[str | None, Query(max_length=128, description="A spec id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> WaiverList:
    await store.expire_due(session)
    rows = await store.list_waivers(
        session, tenant=principal.tenant, status=status, applies_to=applies_to, limit=limit
    )
    policy = _policy(state.settings)
    return WaiverList(
        items=[await _public(session, r, policy) for r in rows],
        files=_waiver_files(state.settings),
    )


def _waiver_files(settings: Settings) -> list[WaiverFilePublic]:
    """The waivers directory's files, each checked on its own: a broken one is listed
    with its problems (and fails only the tasks that cite it)."""
    return [
        WaiverFilePublic(
            file=(r.file or "").rsplit("/", 1)[-1],
            id=r.waiver_id,
            format=r.generation,
            status=r.status,
            valid=r.valid,
            problems=[WaiverFileProblem(**p.model_dump()) for p in r.problems],
        )
        for r in read_waiver_dir(settings.effective_waivers_dir)
    ]


@router.get("/{waiver_id}", response_model=Waiver, responses=RESPONSES)
async def get_waiver(
    state: StateDep, session: SessionDep, principal: ViewerDep, waiver_id: WaiverId
) -> Waiver:
    await store.expire_due(session)
    row = await store.get_waiver(session, waiver_id, principal.tenant)
    if row is None:
        raise not_found(f"waiver {waiver_id}")
    return await _public(session, row, _policy(state.settings))


@router.post("/{waiver_id}/approve", response_model=Waiver, responses=RESPONSES)
async def approve_waiver(
    state: StateDep,
    session: SessionDep,
    principal: AdminDep,
    waiver_id: WaiverId,
    body: ApproveBody | None = None,
) -> Waiver:
    policy = _policy(state.settings)
    existing = await store.get_waiver(session, waiver_id, principal.tenant)
    if existing is None:
        raise not_found(f"waiver {waiver_id}")
    try:
        row = await store.approve_waiver(
            session,
            waiver_id,
            approver=principal.actor,
            required=_required(policy, existing.risk_tier),
            tenant=principal.tenant,
            comment=(body or ApproveBody()).comment,
        )
    except store.WaiverRefused as err:
        raise refused(str(err)) from err
    return await _public(session, row, policy)


@router.post("/{waiver_id}/revoke", response_model=Waiver, responses=RESPONSES)
async def revoke_waiver(
    state: StateDep,
    session: SessionDep,
    principal: AdminDep,
    waiver_id: WaiverId,
    body: RevokeBody,
) -> Waiver:
    try:
        row = await store.revoke_waiver(
            session, waiver_id, by=principal.actor, reason=body.reason, tenant=principal.tenant
        )
    except store.UnknownWaiverError:
        raise not_found(f"waiver {waiver_id}") from None
    except store.WaiverRefused as err:
        raise refused(str(err)) from err
    return await _public(session, row, _policy(state.settings))
