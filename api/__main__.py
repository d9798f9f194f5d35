"""`python -m api`: serve the API with uvicorn on the configured host and port.

The API process's entry point, and so the one module of `api` that imports the workflow:
it hands the task workflow's class to the app, whose `/replay` checks histories against
it (the rest of `api` must not depend on the workflow; tests/test_layers.py).
"""

from __future__ import annotations

import sys

import uvicorn

from agency.gc_tuning import freeze_startup_heap
from agency.settings import get_settings
from agency.slo.spec import SloFileInvalid, load_slo_file
from api.app import create_app
from workflows.task import TaskWorkflow

# Settings that cannot work: restarting would not help (EX_CONFIG, as the workers').
EXIT_CONFIG = 78


def main() -> None:
    settings = get_settings()
    try:
        # Checked before serving so that its problems are printed as a message, each on
        # its own line, not as a failed startup's traceback.
        slo_file = load_slo_file(settings.slo_file)
    except SloFileInvalid as err:
        print(f"api: {err}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    app = create_app(settings, workflows=[TaskWorkflow], slo_file=slo_file)
    freeze_startup_heap()  # every import and the app are built by now (agency/gc_tuning.py)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
