"""The Temporal Schedule that runs the alert evaluator (workflows/alerts.py).

Every workflow worker ensures it at start (agency/worker.py): created when missing,
its interval and task queue brought in line with the settings when present, so that
any number of workers, started in any order, leave exactly one schedule. Overlap
policy skip: while one evaluation still delivers, the next tick is dropped rather than
queued, so evaluations never race.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from agency.settings import Settings
from domain.alerts import ALERTS_SCHEDULE_ID, ALERTS_WORKFLOW


def alert_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ALERTS_WORKFLOW,
            id="agency-alerts-evaluation",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.alert_interval_s))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


log = logging.getLogger("agency.alerts")


async def ensure_alert_schedule(client: Client, settings: Settings) -> bool:
    """Ensure the schedule; False (logged) when Temporal refuses it: the task workflow's
    worker must not stop for the alerts (a namespace without schedules, a race with
    another worker's update); the next worker start tries again."""
    try:
        await _ensure(client, settings)
    except RPCError as err:
        log.warning("the alert schedule %s could not be ensured: %s", ALERTS_SCHEDULE_ID, err)
        return False
    return True


async def _ensure(client: Client, settings: Settings) -> None:
    wanted = alert_schedule(settings)
    try:
        await client.create_schedule(ALERTS_SCHEDULE_ID, wanted)
        return
    except ScheduleAlreadyRunningError:
        pass

    def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        # Settings win over whatever an earlier version or another worker wrote; a pause
        # an operator set stays (the state is kept).
        current = _.description.schedule
        current.action, current.spec, current.policy = wanted.action, wanted.spec, wanted.policy
        return ScheduleUpdate(schedule=current)

    await client.get_schedule_handle(ALERTS_SCHEDULE_ID).update(update)
