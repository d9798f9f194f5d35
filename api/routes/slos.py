"""`GET /api/v1/slos`: every SLO judged from the records now (docs/slo.md).

The same report as `agency slo`: objective, error budget left, burn rate per alert
window, alerts firing. SLOs are the service's, not a tenant's (like the Prometheus
metrics they mirror), so any viewer sees the same ratios; no task, actor or tenant is
named in them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from agency.db.types import utcnow
from agency.slo.report import SloReport, build_report
from agency.slo.spec import SloFile
from api.deps import SessionDep, ViewerDep

router = APIRouter(prefix="/api/v1/slos", tags=["slos"])


def slo_file_of(request: Request) -> SloFile:
    """The SLO file, read and checked when the app started (api/app.py): a file with
    problems stops the API there, listing them, rather than failing this route."""
    return request.app.state.slo_file  # type: ignore[no-any-return]


@router.get(
    "",
    response_model=SloReport,
)
async def list_slos(request: Request, session: SessionDep, principal: ViewerDep) -> SloReport:
    """Each SLO with its error budget left, burn rates and firing alerts, from the
    records; SLOs only the metrics count are listed as unjudged."""
    return await build_report(session, slo_file_of(request), utcnow())
