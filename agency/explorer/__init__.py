"""The database explorer: read-only SQL over the records, for a tenant's admins.

`catalog` says what may be read (tables, columns, functions) and how each table is
scoped to a tenant; `sqlite` and `postgres` run one statement under those rules, each
with the database's own guards (an authorizer and a read-only connection on SQLite; a
SELECT-only role, column grants, row-level security and a read-only transaction on
PostgreSQL); `result` is what comes back and how it is downloaded; `run` picks the
backend; `saved` keeps named queries. docs/explorer.md describes it for users.
"""
