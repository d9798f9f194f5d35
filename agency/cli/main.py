"""The `agency` command line (console script `agency = agency.cli.main:app`)."""

from __future__ import annotations

import typer

from agency.cli import caws, chat, interventions, logs, ops, replay, signing_keys, tasks, verify
from agency.cli.alerts import alerts_app
from agency.cli.gate import gate_app
from agency.cli.keys import keys_app
from agency.cli.models import models_app
from agency.cli.query import query as query_command
from agency.cli.slo import slo_app
from agency.cli.temporal import temporal_app
from agency.cli.trends import trends
from agency.cli.ui import ui as ui_command
from agency.cli.waivers import waiver_app

app = typer.Typer(
    name="agency",
    help="Agent Agency: governed autonomous agent tasks. Talks to the task API "
    "(AGENCY_API_URL, default http://127.0.0.1:8080).",
    no_args_is_help=True,
    add_completion=False,
    # Errors are printed by the commands themselves; never show a traceback to a user.
    pretty_exceptions_enable=False,
)

app.command("submit")(tasks.submit)
app.command("list")(tasks.list_tasks)
app.command("show")(tasks.show)
app.command("watch")(tasks.watch)
app.command("audit")(tasks.audit)
app.command("logs")(logs.logs)
app.command("verify")(verify.verify)
app.command("replay")(replay.replay)

for _name in ("pause", "resume", "cancel", "approve", "reject"):
    app.command(_name)(getattr(interventions, _name))
app.command("override")(interventions.override)
app.command("guide")(interventions.guide)
app.command("params")(interventions.params)

app.command("up")(ops.up)
app.command("status")(ops.status)
app.command("demo")(ops.demo)
app.add_typer(ops.db_app, name="db")
signing_keys.register(keys_app)
app.add_typer(keys_app, name="keys")
app.add_typer(waiver_app, name="waiver")
app.add_typer(caws.caws_app, name="caws")
app.add_typer(models_app, name="models")
app.command("chat")(chat.chat)
app.command("ui")(ui_command)
app.command("query")(query_command)
app.add_typer(gate_app, name="gate")
app.add_typer(temporal_app, name="temporal")
app.add_typer(slo_app, name="slo")
app.add_typer(alerts_app, name="alerts")
app.command("trends")(trends)
