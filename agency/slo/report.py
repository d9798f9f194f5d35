"""Every SLO of a file judged now from our records: what `agency slo` prints and
`GET /api/v1/slos` returns."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from agency.slo.burn import SloStatus, evaluate
from agency.slo.records import samples_for
from agency.slo.spec import SloFile, duration_s


class UnjudgedSlo(BaseModel):
    """An SLO whose events only the metrics count (no `records:` in the file)."""

    name: str
    description: str
    objective: float
    window: str
    reason: str


class SloReport(BaseModel):
    at: datetime
    slos: list[SloStatus] = Field(description="the SLOs judged from our records")
    unjudged: list[UnjudgedSlo] = Field(
        description="SLOs only Prometheus can judge (agency slo rules)"
    )

    @property
    def firing(self) -> list[tuple[str, str]]:
        return [(s.name, severity) for s in self.slos for severity in s.firing]


async def build_report(session: AsyncSession, slo_file: SloFile, now: datetime) -> SloReport:
    longest_alert = max(duration_s(a.long) for a in slo_file.alerts)
    judged: list[SloStatus] = []
    unjudged: list[UnjudgedSlo] = []
    for slo in slo_file.slos:
        # The budget needs the SLO's window, the alerts their longest one.
        since = now - timedelta(seconds=max(slo.window_s, longest_alert))
        samples = await samples_for(session, slo, since)
        if samples is None:
            unjudged.append(
                UnjudgedSlo(
                    name=slo.name,
                    description=slo.description,
                    objective=slo.objective,
                    window=slo.window,
                    reason="counted only by the metrics: see `agency slo rules`",
                )
            )
            continue
        judged.append(evaluate(slo_file, slo, samples, now.timestamp()))
    return SloReport(at=now, slos=judged, unjudged=unjudged)
