"""`python -m api`: serve the API with uvicorn on the configured host and port.

The API process's entry point, and so the one module of `api` that imports the workflow:
it hands the task workflow's class to the app, whose `/replay` checks histories against
it (the rest of `api` must not depend on the workflow; tests/test_layers.py).
"""

from __future__ import annotations

import uvicorn

from agency.settings import get_settings
from api.app import create_app
from workflows.task import TaskWorkflow


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        create_app(settings, workflows=[TaskWorkflow]),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        access_log=False,
    )


if __name__ == "__main__":
    main()
