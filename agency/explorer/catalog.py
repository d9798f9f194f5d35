"""What the explorer may read: tables, their visible columns, their tenant scope, functions.

One list for both backends. SQLite builds its per-query views from it; the PostgreSQL
grants and row-level security policies of migration 0009 are a frozen copy of it (a
migration must not change when this module does), and the PostgreSQL tests prove they
agree. Columns absent here are hidden: key hashes above all. Artifacts (diff blobs
addressed by content hash, shared by every tenant) and Alembic's bookkeeping are not
listed at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    # SQL condition (over the table's own columns, {tenant} replaced by the quoted
    # tenant) that keeps a tenant's rows only.
    scope: str


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_IN_TENANT_TASKS = "task_id IN (SELECT id FROM main.tasks WHERE tenant = {tenant})"

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "tasks",
            _words(
                "id caws_id title risk_tier mode execution_mode phase iteration max_iterations "
                "paused pending_action applied_commit error workflow_id workflow_run_id "
                "submitted_by tenant spec verdicts changed_files lines_added lines_removed "
                "last_seq created_at updated_at"
            ),
            "tenant = {tenant}",
        ),
        Table(
            "task_events",
            _words("id task_id seq at kind phase actor action data"),
            _IN_TENANT_TASKS,
        ),
        Table(
            "audit_log",
            _words("id task_id seq at actor action phase verdict approval_status detail"),
            _IN_TENANT_TASKS,
        ),
        Table(
            "verdicts",
            _words(
                "id task_id seq stage iteration judge verdict confidence violations rationale "
                "assessment"
            ),
            _IN_TENANT_TASKS,
        ),
        Table(
            "provenance_records",
            _words(
                "task_id kid record_sha256 jws commit path outcome last_seq history_events "
                "signed_at created_at"
            ),
            _IN_TENANT_TASKS,
        ),
        Table(
            "waivers",
            _words(
                "id number tenant title reason reason_code gates delta applies_to risk_owner "
                "risk_tier created_by status created_at expires_at activated_at revoked_at "
                "revoked_by revoke_reason"
            ),
            "tenant = {tenant}",
        ),
        Table(
            "waiver_approvals",
            _words("id waiver_id approver handle comment approved_at"),
            "waiver_id IN (SELECT id FROM main.waivers WHERE tenant = {tenant})",
        ),
        Table(
            # Never `hash`: the SHA-256 of a key is all an offline guess needs.
            "api_keys",
            _words("id prefix role tenant name created_at revoked_at last_used_at"),
            "tenant = {tenant}",
        ),
        Table(
            "chat_sessions",
            _words("id tenant created_by title model last_seq created_at updated_at"),
            "tenant = {tenant}",
        ),
        Table(
            "chat_messages",
            _words(
                "id session_id seq first_seq role content tokens model finish_reason stats "
                "created_at"
            ),
            "session_id IN (SELECT id FROM main.chat_sessions WHERE tenant = {tenant})",
        ),
    )
}

# Columns that exist but are never shown, named so a refusal can say why.
HIDDEN: dict[str, str] = {  # by column name: SQLite reports only the name
    "hash": "api_keys.hash (a key's hash) is hidden from the explorer: name the columns you need",
}

# SQLite functions a query may call: pure, bounded by the length limit. Not printf or
# format (a width allocates), randomblob, zeroblob, load_extension, sqlite_* internals.
SQLITE_FUNCTIONS = frozenset(
    _words(
        """
    abs avg count group_concat string_agg max min sum total coalesce ifnull iif nullif
    length octet_length lower upper ltrim rtrim trim substr substring replace instr
    round typeof date time datetime julianday strftime unixepoch timediff like glob
    hex quote char unicode sign random
    json json_extract json_type json_valid json_array_length json_quote -> ->>
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value
    """
    )
)

# PostgreSQL functions a query may call (names as the parser gives them, lower case).
# Never set_config (it could change the role or the tenant), query_to_xml and friends
# (they run SQL of their own), pg_sleep, pg_read_file, dblink, lo_*, nextval, repeat.
POSTGRES_FUNCTIONS = frozenset(
    _words(
        """
    count sum avg min max bool_and bool_or every array_agg string_agg jsonb_agg json_agg
    percentile_cont percentile_disc mode stddev variance
    lower upper length char_length octet_length substr substring btrim ltrim rtrim
    replace position strpos split_part left right concat concat_ws initcap md5 abs round
    floor ceil ceiling trunc sign mod now date_trunc date_part extract age to_char
    to_timestamp to_date make_interval
    jsonb_extract_path_text json_extract_path_text jsonb_extract_path json_extract_path
    jsonb_array_length json_array_length jsonb_typeof json_typeof jsonb_array_elements
    json_array_elements jsonb_array_elements_text json_array_elements_text jsonb_each
    json_each jsonb_each_text json_each_text jsonb_object_keys json_object_keys
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value generate_series
    """
    )
)
