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
from agency.slo.spec import SloFile, SloFileInvalid, load_slo_file
from api.deps import SessionDep, StateDep, ViewerDep
from api.problems import FieldProblem, Problem, ProblemError

router = APIRouter(prefix="/api/v1/slos", tags=["slos"])


def slo_file_of(request: Request, state: StateDep) -> SloFile:
    """The SLO file, read once per app (AGENCY_SLO_FILE or the default)."""
    loaded = getattr(request.app.state, "slo_file", None)
    if loaded is None:
        try:
            loaded = load_slo_file(state.settings.slo_file)
        except SloFileInvalid as err:
            raise ProblemError(
                500,
                "slo-file-invalid",
                "The SLO file is invalid",
                f"{len(err.problems)} problem(s) in {state.settings.slo_file}",
                errors=[FieldProblem(path=p.path, message=p.message) for p in err.problems],
            ) from None
        request.app.state.slo_file = loaded
    return loaded  # type: ignore[no-any-return]


@router.get(
    "",
    response_model=SloReport,
    responses={500: {"model": Problem, "description": "The SLO file is invalid"}},
)
async def list_slos(
    request: Request, state: StateDep, session: SessionDep, principal: ViewerDep
) -> SloReport:
    """Each SLO with its error budget left, burn rates and firing alerts, from the
    records; SLOs only the metrics count are listed as unjudged."""
    return await build_report(session, slo_file_of(request, state), utcnow())
