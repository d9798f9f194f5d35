"""Check a PostgreSQL statement before it runs, with PostgreSQL's own parser (pglast).

The grants, row-level security and read-only transaction of `postgres` are the boundary
for tables, columns, rows and writes. What they cannot stop is a function that changes
the session: `set_config('role', …)` may switch back to the session's own (owning) role,
`set_config('agency.tenant', …)` to another tenant, and `query_to_xml` runs SQL of its
own. So every function called must be on `catalog.POSTGRES_FUNCTIONS`, the statement must
be exactly one SELECT without INTO or FOR UPDATE and without data-modifying CTEs, and
every table named must be a catalog table or a CTE (that last one is for a clear message;
the grants would refuse it anyway).
"""

from __future__ import annotations

from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor

from agency.explorer.catalog import POSTGRES_FUNCTIONS, TABLES
from agency.explorer.result import ExplorerRefused


class _Walk(Visitor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.ctes: set[str] = set()
        self.tables: list[str] = []

    def _problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def visit(self, ancestors: Any, node: Any) -> None:
        name = type(node).__name__
        if name.endswith("Stmt") and name != "SelectStmt":
            self._problem(f"{name.removesuffix('Stmt')} is not allowed: the explorer only reads")

    def visit_SelectStmt(self, ancestors: Any, node: ast.SelectStmt) -> None:
        if node.intoClause is not None:
            self._problem("SELECT INTO is not allowed: the explorer only reads")
        if node.lockingClause:
            self._problem("FOR UPDATE/SHARE is not allowed: the explorer only reads")

    def visit_CommonTableExpr(self, ancestors: Any, node: ast.CommonTableExpr) -> None:
        self.ctes.add(node.ctename)

    def visit_RangeVar(self, ancestors: Any, node: ast.RangeVar) -> None:
        schema = node.schemaname
        self.tables.append(
            node.relname if schema in (None, "public") else f"{schema}.{node.relname}"
        )

    def visit_FuncCall(self, ancestors: Any, node: ast.FuncCall) -> None:
        parts = [getattr(p, "sval", "") for p in node.funcname]
        schema, fname = (parts[0], parts[-1]) if len(parts) > 1 else (None, parts[-1])
        if schema not in (None, "pg_catalog") or fname.lower() not in POSTGRES_FUNCTIONS:
            self._problem(f"function {'.'.join(parts)}() is not allowed")


def check_postgres(sql: str) -> None:
    """Raise ExplorerRefused unless `sql` is one SELECT the explorer allows."""
    try:
        statements = parse_sql(sql)
    except ParseError as exc:
        raise ExplorerRefused("failed", [f"syntax error: {exc}"]) from None
    if not statements:
        raise ExplorerRefused("refused", ["no statement"])
    if len(statements) != 1:
        raise ExplorerRefused("refused", ["one statement at a time"])
    walk = _Walk()
    walk(statements[0].stmt)
    if type(statements[0].stmt).__name__ != "SelectStmt":
        walk._problem("only SELECT statements are allowed")
    for table in walk.tables:
        if table not in TABLES and table not in walk.ctes:
            walk._problem(
                f"table {table} is not open to the explorer; "
                f"its tables: {', '.join(sorted(TABLES))}"
            )
    if walk.problems:
        raise ExplorerRefused("refused", walk.problems)
