"""What the SLO evaluator sees firing now, as alerts: agency.slo.report judged from the
records, one `Firing` per (SLO, severity)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from agency.alerts.store import Firing
from agency.slo.burn import SloStatus
from agency.slo.report import build_report
from agency.slo.spec import SloFile


def _firing(slo: SloStatus, severity: str) -> Firing:
    burns = ", ".join(
        f"{w.window} {w.burn_rate:.1f}x" for w in slo.windows if w.burn_rate is not None
    )
    return Firing(
        slo=slo.name,
        severity=severity,
        summary=f"SLO {slo.name} is burning its error budget ({severity})",
        description=(
            f"{slo.description.strip()} Objective {slo.objective:.4g} over {slo.window}; "
            f"error budget left {slo.error_budget_left:.1%}; burn rates: {burns or 'none'}."
        ),
    )


async def firing_now(session: AsyncSession, slo_file: SloFile, now: datetime) -> list[Firing]:
    report = await build_report(session, slo_file, now)
    return [_firing(slo, severity) for slo in report.slos for severity in slo.firing]
