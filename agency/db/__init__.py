"""The database layer: table models, engines and sessions, migrations, repository functions."""

from agency.db.engine import make_engine, ping, session_maker
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
from agency.db.records import UnknownTaskError, apply_record, insert_task, projection_changes
from agency.db.task_pages import list_tasks
from agency.db.task_reads import list_audit, list_events, list_verdicts, read_task

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
