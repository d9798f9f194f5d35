"""Waiver files (`.caws/waivers/*.yaml`) checked as CAWS checks them, one file at a time.

A v11 waiver is checked by the CAWS kernel's rules (waiver/validate.ts), with its rule
ids: the id pattern, a title of at least 5 characters, status `active` or `revoked`,
non-empty gates, a reason, `approved_by`, `created_at` and `expires_at` as ISO-8601
date-times with a zone, `scope.spec_id` a string, a revocation record exactly when
revoked. CAWS stops at the first broken rule; we list every one, the first being the one
CAWS names.

A v10 waiver (`applies_to`, `delta`, `risk_owner`, `approvers`; no `approved_by`) is no
longer read by CAWS v11, but older repositories still have them: it is checked against
the v10 waiver schema's required fields and read, with a warning saying so.

A file that breaks a rule is that waiver's problem only: the caller sets it aside and
fails only tasks that cite it (see `cited_waiver_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from council.caws.rules import AgencyRules, WaiverRules
from council.problems import GovernanceWarning, Problem
from council.waivers import WAIVER_ID_PATTERN, WaiverInvalid, parse_waiver

Generation = Literal["v10", "v11", "unknown"]

_WAIVER_ID = re.compile(WAIVER_ID_PATTERN)
# The kernel's ISO-8601 check: date, time, optional fraction, and a zone (Z or ±hh:mm).
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_V11_STATUSES = ("active", "revoked")
_V10_STATUSES = ("proposed", "active", "expired", "revoked")
_V10_REQUIRED = (
    "id",
    "applies_to",
    "gates",
    "delta",
    "reason_code",
    "expires_at",
    "risk_owner",
    "approvers",
    "status",
)
_DATE_TIME_HINT = "an ISO-8601 date-time with a zone, e.g. 2026-12-31T23:59:59Z"


@dataclass
class WaiverReading:
    """One waiver file as read: its data when valid, else the problems."""

    file: str | None
    # The id it claims (its `id`, else the file name), so that a task citing a broken
    # waiver can be told which file is broken.
    waiver_id: str | None
    generation: Generation
    data: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[GovernanceWarning] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.data is not None and not self.problems

    @property
    def status(self) -> str | None:
        source = self.data if self.data is not None else {}
        value = source.get("status")
        return value if isinstance(value, str) else None


def waiver_generation(data: dict[str, Any]) -> Generation:
    if "approved_by" not in data and any(
        k in data for k in ("approvers", "applies_to", "risk_owner")
    ):
        return "v10"
    return "v11"


def read_waiver(data: Any, *, file: str | None = None) -> WaiverReading:
    if not isinstance(data, dict):
        problem = Problem(
            path="", message="a waiver must be a mapping", rule=WaiverRules.INVALID_ID
        )
        return WaiverReading(
            file=file, waiver_id=waiver_id_of_file(file), generation="unknown", problems=[problem]
        )
    claimed = data.get("id") if isinstance(data.get("id"), str) else waiver_id_of_file(file)
    generation = waiver_generation(data)
    reading = WaiverReading(file=file, waiver_id=claimed, generation=generation)
    if generation == "v10":
        reading.problems = _v10_problems(data)
        reading.warnings.append(
            GovernanceWarning(
                rule=AgencyRules.WAIVER_V10_FORMAT,
                message="read as a CAWS v10 waiver (applies_to, delta, approvers); CAWS v11 "
                "reads only waivers with title, reason, approved_by, created_at and expires_at",
                file=file,
            )
        )
    else:
        reading.problems = _v11_problems(data)
    if not reading.problems:
        # The judges' model must take it too (e.g. delta values); say so if it does not.
        try:
            parse_waiver(data)
        except WaiverInvalid as err:
            reading.problems = [
                Problem(path=p.path, message=p.message, rule=AgencyRules.WAIVER_V10_INVALID)
                for p in err.problems
            ]
    if not reading.problems:
        reading.data = data
    return reading


def _v11_problems(v: dict[str, Any]) -> list[Problem]:
    """The kernel's checks in the kernel's order (so the first problem is CAWS's)."""
    out: list[Problem] = []

    def bad(rule: str, path: str, message: str) -> None:
        out.append(Problem(path=path, message=message, rule=rule))

    wid = v.get("id")
    if not isinstance(wid, str) or not _WAIVER_ID.fullmatch(wid):
        bad(
            WaiverRules.INVALID_ID,
            "id",
            f"{wid!r} is not a CAWS waiver id: upper-case segments joined by '-', ending in a "
            "number (e.g. WV-0001, FEAT-12-SCOPE-01)",
        )
    title = v.get("title")
    if not isinstance(title, str) or len(title.strip()) < 5:
        bad(WaiverRules.INVALID_TITLE, "title", "is required, at least 5 characters")
    status = v.get("status")
    if status not in _V11_STATUSES:
        bad(WaiverRules.INVALID_STATUS, "status", f"must be active or revoked, got {status!r}")
    gates = v.get("gates")
    if not isinstance(gates, list) or not gates or not all(isinstance(g, str) and g for g in gates):
        bad(WaiverRules.INVALID_GATES, "gates", "must list the gates waived (non-empty names)")
    reason = v.get("reason")
    if not isinstance(reason, str) or len(reason.strip()) < 3:
        bad(WaiverRules.INVALID_REASON, "reason", "is required: why the exception is needed")
    approved_by = v.get("approved_by")
    if not isinstance(approved_by, str) or not approved_by.strip():
        bad(WaiverRules.INVALID_APPROVED_BY, "approved_by", "is required: who approved it")
    for key, rule in (
        ("created_at", WaiverRules.INVALID_CREATED_AT),
        ("expires_at", WaiverRules.INVALID_EXPIRY),
    ):
        if not _is_iso(v.get(key)):
            bad(rule, key, f"must be {_DATE_TIME_HINT}, got {v.get(key)!r}")
    scope = v.get("scope")
    if scope is not None:
        if not isinstance(scope, dict):
            bad(WaiverRules.INVALID_GATES, "scope", "must be a mapping (spec_id: ...)")
        elif scope.get("spec_id") is not None and not isinstance(scope["spec_id"], str):
            bad(WaiverRules.INVALID_GATES, "scope.spec_id", "must be a spec id (text)")
    constraints = v.get("constraints")
    if constraints is not None:
        uses = constraints.get("max_uses") if isinstance(constraints, dict) else None
        if not isinstance(constraints, dict) or (
            uses is not None and (isinstance(uses, bool) or not isinstance(uses, int) or uses < 0)
        ):
            bad(WaiverRules.INVALID_GATES, "constraints", "max_uses must be a whole number >= 0")
    revocation = v.get("revocation")
    if status == "revoked":
        if not isinstance(revocation, dict) or not _is_iso(revocation.get("revoked_at")):
            bad(
                WaiverRules.REVOKED_WITHOUT_RECORD,
                "revocation",
                f"a revoked waiver needs revocation.revoked_at ({_DATE_TIME_HINT})",
            )
    elif revocation is not None:
        bad(
            WaiverRules.ACTIVE_WITH_REVOCATION,
            "revocation",
            "an active waiver must not carry a revocation record",
        )
    return out


def _v10_problems(v: dict[str, Any]) -> list[Problem]:
    """The v10 waiver schema's required fields, with the kernel's ids where it has them."""
    out: list[Problem] = []
    wid = v.get("id")
    if not isinstance(wid, str) or not _WAIVER_ID.fullmatch(wid):
        out.append(
            Problem(
                path="id", message=f"{wid!r} is not a CAWS waiver id", rule=WaiverRules.INVALID_ID
            )
        )
    status = v.get("status")
    if status not in _V10_STATUSES:
        message = f"must be one of {', '.join(_V10_STATUSES)}, got {status!r}"
        out.append(Problem(path="status", message=message, rule=WaiverRules.INVALID_STATUS))
    gates = v.get("gates")
    if not isinstance(gates, list) or not gates or not all(isinstance(g, str) and g for g in gates):
        out.append(
            Problem(
                path="gates", message="must list the gates waived", rule=WaiverRules.INVALID_GATES
            )
        )
    if not _is_iso(v.get("expires_at")):
        message = f"must be {_DATE_TIME_HINT}, got {v.get('expires_at')!r}"
        out.append(Problem(path="expires_at", message=message, rule=WaiverRules.INVALID_EXPIRY))
    approvers = v.get("approvers")
    if (
        not isinstance(approvers, list)
        or not approvers
        or not all(
            isinstance(a, dict) and isinstance(a.get("handle"), str) and a["handle"]
            for a in approvers
        )
    ):
        message = "must list at least one approver, each with a handle"
        out.append(Problem(path="approvers", message=message, rule=AgencyRules.WAIVER_V10_INVALID))
    checked = {"id", "status", "gates", "expires_at", "approvers"}
    for key in _V10_REQUIRED:
        if key not in checked and key not in v:
            message = "is required in a v10 waiver"
            out.append(Problem(path=key, message=message, rule=AgencyRules.WAIVER_V10_INVALID))
    return out


def _is_iso(value: Any) -> bool:
    return isinstance(value, str) and _ISO_DATETIME.match(value) is not None


def waiver_id_of_file(file: str | None) -> str | None:
    if not file:
        return None
    return file.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0] or None


def duplicate_warnings(readings: Sequence[WaiverReading]) -> list[GovernanceWarning]:
    """Two valid files claiming one id: neither is used (a task citing it is refused)."""
    seen: dict[str, WaiverReading] = {}
    out: list[GovernanceWarning] = []
    for reading in readings:
        wid = reading.waiver_id
        if not reading.valid or wid is None:
            continue
        if wid in seen:
            message = f"waiver {wid} is defined by both {seen[wid].file} and {reading.file}"
            out.append(
                GovernanceWarning(
                    rule=AgencyRules.WAIVER_DUPLICATE_ID, message=message, file=reading.file
                )
            )
        else:
            seen[wid] = reading
    return out


def usable_files(readings: Iterable[WaiverReading]) -> list[dict[str, Any]]:
    """The data of valid waiver files whose id no other valid file claims."""
    valid = [r for r in readings if r.valid and r.data is not None]
    counts: dict[str | None, int] = {}
    for r in valid:
        counts[r.waiver_id] = counts.get(r.waiver_id, 0) + 1
    return [r.data for r in valid if r.data is not None and counts[r.waiver_id] == 1]


def broken_warnings(readings: Iterable[WaiverReading]) -> list[GovernanceWarning]:
    """One warning per problem of each invalid file: reported, never fatal by itself."""
    out: list[GovernanceWarning] = []
    for reading in readings:
        for p in reading.problems:
            message = f"waiver {reading.waiver_id or '?'} is set aside: {p.message}"
            out.append(
                GovernanceWarning(
                    rule=p.rule or "", message=message, path=p.path, file=reading.file
                )
            )
    return out


def cited_waiver_problems(
    waiver_ids: Sequence[str], readings: Sequence[WaiverReading]
) -> list[Problem]:
    """The task names a waiver whose file is broken, or claimed by two files: a problem
    of that task (and only of tasks that name it)."""
    out: list[Problem] = []
    for i, wid in enumerate(waiver_ids):
        claiming = [r for r in readings if r.waiver_id == wid]
        broken = [r for r in claiming if not r.valid]
        valid = [r for r in claiming if r.valid]
        for reading in broken:
            detail = "; ".join(
                f"{p.path or '<file>'}: {p.message} [{p.rule}]" for p in reading.problems
            )
            message = f"waiver {wid} ({reading.file}) is invalid: {detail}"
            # The rule of its first problem: the one CAWS itself reports for the file.
            rule = reading.problems[0].rule or AgencyRules.WAIVER_CITED_INVALID
            out.append(Problem(path=f"waiver_ids[{i}]", message=message, rule=rule))
        if len(valid) > 1:
            files = ", ".join(str(r.file) for r in valid)
            message = f"waiver {wid} is defined by more than one file ({files}); keep one"
            out.append(
                Problem(
                    path=f"waiver_ids[{i}]", message=message, rule=AgencyRules.WAIVER_DUPLICATE_ID
                )
            )
    return out
