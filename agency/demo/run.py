"""`agency demo`: start the stack, run the three scenarios, report, keep the stack up."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.markup import escape

from agency.cli.client import ApiClient, resolve_api_key
from agency.cli.ui import print_dashboard
from agency.demo.repo import make_demo_repo
from agency.demo.report import demo_report
from agency.demo.runner import DemoRunner, cli_env
from agency.demo.scenarios import build_scenarios
from agency.settings import Settings
from agency.stack import Stack, StackError, stop_signals

DEMO_ACTOR = "agency-demo"


def ci_requested(flag: bool) -> bool:
    return flag or os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def run_demo(settings: Settings, *, ci: bool, console: Console) -> int:
    """Returns the exit code: in CI mode 0 only when all three scenarios passed."""
    stack = Stack(settings, report=lambda line: console.print(f"[dim]stack:[/] {escape(line)}"))
    all_passed: bool | None = None
    with stop_signals():
        try:
            stack.start()
            repo = stack.data_dir / "demo" / "repo"
            make_demo_repo(repo, replace=True)
            console.print(f"[dim]demo repository:[/] {escape(str(repo))}")
            with ApiClient(
                stack.api_url, actor=DEMO_ACTOR, api_key=resolve_api_key(settings)
            ) as client:
                runner = DemoRunner(
                    client=client,
                    repo=repo,
                    cli_env=cli_env(stack.api_url, stack.data_dir),
                    log=lambda line: console.print(escape(line), highlight=False, soft_wrap=True),
                    health_check=stack.check,
                )
                outcomes = runner.run(build_scenarios(repo, python=sys.executable))
            console.print(demo_report(outcomes))
            print_urls(stack, console)
            all_passed = all(outcome.passed for outcome in outcomes)
            if not ci:
                console.print("The stack stays up; press Ctrl-C to stop it.")
                stack.wait()
            return 0 if all_passed else 1
        except StackError as error:
            console.print(f"[bold red]stack error:[/] {escape(str(error))}")
            return 1
        except KeyboardInterrupt:
            # After the report, Ctrl-C is the expected way out; before it, an interruption.
            return 130 if all_passed is None else 0 if all_passed else 1
        finally:
            stack.stop()


def print_urls(stack: Stack, console: Console) -> None:
    console.print(f"API:         {stack.api_url}")
    print_dashboard(stack.api_url, stack.settings, console, stack.dashboard_url)
    if stack.temporal_ui_url:
        console.print(f"Temporal UI: {stack.temporal_ui_url}")
    else:
        console.print(f"Temporal:    {stack.temporal_address} (external cluster)")
