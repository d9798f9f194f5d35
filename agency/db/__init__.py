"""The database layer: table models, engines and sessions, migrations, repository functions."""

from agency.db.engine import make_engine, session_maker
from agency.db.migrate import (
    current_revision,
    current_revision_async,
    downgrade_database,
    head_revision,
    upgrade_database,
    upgrade_database_async,
)
from agency.db.models import AuditEntry, Task, TaskEvent, VerdictRecord
from agency.db.reads import Reader, make_reader
from agency.db.records import (
    UnknownTaskError,
    apply_record,
    get_task,
    insert_task,
    list_audit,
    list_events,
    list_tasks,
    list_verdicts,
    ping,
    projection_changes,
    read_task,
)

__all__ = [
    "AuditEntry",
    "Reader",
    "Task",
    "TaskEvent",
    "UnknownTaskError",
    "VerdictRecord",
    "apply_record",
    "current_revision",
    "current_revision_async",
    "downgrade_database",
    "get_task",
    "head_revision",
    "insert_task",
    "list_audit",
    "list_events",
    "list_tasks",
    "list_verdicts",
    "make_engine",
    "make_reader",
    "ping",
    "projection_changes",
    "read_task",
    "session_maker",
    "upgrade_database",
    "upgrade_database_async",
]
