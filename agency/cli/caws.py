"""`agency caws list|check REPO`: a repository's CAWS files as Agent Agency reads them.

Local, no API: it reads the checkout (or `--ref` a commit) the way a task would, so a
repository can run `agency caws check .` in its own CI. `check` exits 1 when any spec,
waiver or the policy has a problem (each printed with its rule id), 0 otherwise;
warnings are printed but never fail it. Bad input (no such repository, spec or ref)
exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import git
import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agency.caws_repo import (
    PolicyReading,
    SpecFile,
    read_policy,
    read_spec_file,
    read_specs,
    read_waivers,
    resolve_spec,
)
from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import out, print_json
from agency.cli.render import plain
from agency.governance_files import GitFiles, GovernanceFileError, RepoFiles, WorktreeFiles
from council.caws import RepoTree
from council.problems import GovernanceWarning, Problem
from council.waiver_files import WaiverReading, duplicate_warnings

caws_app = typer.Typer(
    help="A repository's CAWS specs, waivers and policy, as tasks read them.",
    no_args_is_help=True,
)

RepoArg = Annotated[Path, typer.Argument(help="The repository (a checkout) to read.")]
RefOption = Annotated[
    str | None,
    typer.Option("--ref", help="Read the files at this commit instead of the working tree."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@dataclass
class RepoReport:
    where: str
    policy: PolicyReading
    specs: list[SpecFile]
    waivers: list[WaiverReading]
    waiver_warnings: list[GovernanceWarning]

    def problem_count(self) -> int:
        specs = sum(len(s.reading.problems) for s in self.specs if s.reading.is_spec)
        return specs + sum(len(w.problems) for w in self.waivers) + len(self.policy.problems)


@caws_app.command("list")
@handles_errors
def list_files(repo: RepoArg, ref: RefOption = None, as_json: JsonFlag = False) -> None:
    """Every spec found (with its CAWS version and whether it is valid), every waiver
    file, and where the policy comes from."""
    report = _report(_files(repo, ref), None)
    if as_json:
        print_json(_report_json(report))
        return
    out().print(
        Group(_policy_line(report), _specs_table(report.specs), _waivers_table(report.waivers))
    )


@caws_app.command("check")
@handles_errors
def check(
    repo: RepoArg,
    spec: Annotated[
        str | None,
        typer.Argument(help="One spec, by path in the repository or by id (default: all)."),
    ] = None,
    ref: RefOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Print every problem (with its rule id) and warning; exit 1 when there is a problem.

    With SPEC, that spec and the policy it runs under; without, every spec, every waiver
    file and the policy."""
    files = _files(repo, ref)
    report = _report(files, spec)
    problems = report.problem_count()
    if as_json:
        print_json({"ok": problems == 0, "problems": problems, **_report_json(report)})
    else:
        console = out()
        for renderable in _check_lines(report):
            console.print(renderable)
        summary = (
            f"{len([s for s in report.specs if s.reading.is_spec])} spec(s), "
            f"{len(report.waivers)} waiver file(s) at {report.where}: "
            f"{problems} problem(s)"
        )
        console.print(Text(summary, style="red" if problems else "green"))
    if problems:
        raise typer.Exit(EXIT_FAILURE)


def _files(repo: Path, ref: str | None) -> RepoFiles:
    if not repo.is_dir():
        raise CliError(f"{repo}: no such directory", EXIT_BAD_INPUT)
    try:
        if ref is None:
            return WorktreeFiles(repo)
        return GitFiles(git.Repo(repo), ref)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CliError(f"{repo}: not a git repository (needed for --ref)", EXIT_BAD_INPUT) from None
    except GovernanceFileError as err:
        raise CliError(str(err), EXIT_BAD_INPUT) from None


def _report(files: RepoFiles, spec: str | None) -> RepoReport:
    try:
        tree = RepoTree.of(files.tree())
        if spec is not None:
            path = resolve_spec(files, spec)
            if path is None:
                raise CliError(
                    f"no spec {spec!r} at {files.where} (looked for a path, a file name and "
                    "an id in .caws/specs/, .caws/working-spec.yaml, .caws/*spec*.yaml)",
                    EXIT_BAD_INPUT,
                )
            specs = [SpecFile(path=path, reading=read_spec_file(files, path, tree))]
            waivers: list[WaiverReading] = []
        else:
            specs = read_specs(files, tree)
            waivers = read_waivers(files)
        policy = read_policy(files)
    except GovernanceFileError as err:
        raise CliError(str(err), EXIT_BAD_INPUT) from None
    return RepoReport(
        where=files.where,
        policy=policy,
        specs=specs,
        waivers=waivers,
        waiver_warnings=duplicate_warnings(waivers),
    )


# ------------------------------------------------------------------------ rendering
def _policy_line(report: RepoReport) -> Text:
    policy = report.policy
    if policy.file is None:
        return Text("policy: none in the repository (tasks use the agency's policy)", "yellow")
    text = Text(f"policy: {policy.file}")
    if policy.problems:
        text.append(f"  {len(policy.problems)} problem(s)", style="red")
    for warning in policy.warnings:
        text.append(f"\n  ! {warning.message}", style="yellow")
    return text


def _specs_table(specs: list[SpecFile]) -> RenderableType:
    if not specs:
        return Text("specs: none found", "yellow")
    table = Table(header_style="bold", title="specs", title_justify="left")
    for column in ("file", "id", "version", "state", "result", "warnings"):
        table.add_column(column, no_wrap=column != "file")
    for spec in specs:
        reading = spec.reading
        gov = reading.governance or {}
        table.add_row(
            plain(spec.path),
            plain(reading.spec_id or ""),
            plain(reading.version if reading.is_spec else "-"),
            plain(gov.get("lifecycle_state") or ""),
            _result(reading.is_spec, reading.problems),
            plain(len(reading.warnings) or ""),
        )
    return table


def _waivers_table(waivers: list[WaiverReading]) -> RenderableType:
    if not waivers:
        return Text("waivers: none", "dim")
    table = Table(header_style="bold", title="waivers", title_justify="left")
    for column in ("file", "id", "format", "status", "result"):
        table.add_column(column, no_wrap=column != "file")
    for waiver in waivers:
        table.add_row(
            plain(waiver.file),
            plain(waiver.waiver_id or ""),
            plain(waiver.generation),
            plain(waiver.status or ""),
            _result(True, waiver.problems),
        )
    return table


def _result(is_spec: bool, problems: list[Problem]) -> Text:
    if not is_spec:
        return Text("not a working spec", "dim")
    if problems:
        return Text(f"{len(problems)} problem(s)", "red")
    return Text("valid", "green")


def _check_lines(report: RepoReport) -> list[RenderableType]:
    lines: list[RenderableType] = []
    for spec in report.specs:
        reading = spec.reading
        if not reading.is_spec:
            lines.append(Text(f"- {spec.path}: not a working spec, skipped", "dim"))
            continue
        lines += _file_lines(
            spec.path,
            f"{reading.spec_id or '?'}, {reading.version}",
            reading.problems,
            reading.warnings,
        )
    for waiver in report.waivers:
        lines += _file_lines(
            waiver.file or "?",
            f"{waiver.waiver_id or '?'}, {waiver.generation}",
            waiver.problems,
            waiver.warnings,
        )
    lines += [Text(f"  ! {w} ", "yellow") for w in report.waiver_warnings]
    policy = report.policy
    if policy.file is not None:
        lines += _file_lines(policy.file, "policy", policy.problems, policy.warnings)
    return lines


def _file_lines(
    file: str, what: str, problems: list[Problem], warnings: list[GovernanceWarning]
) -> list[Text]:
    mark, style = ("✗", "red") if problems else ("✓", "green")
    lines = [Text(f"{mark} {file} ({what})", style)]
    for p in problems:
        lines.append(Text(f"    {p.rule or '-'}  {p.path or '<file>'}: {p.message}", "red"))
    for w in warnings:
        lines.append(Text(f"    ! {w.rule}  {w.path or '<file>'}: {w.message}", "yellow"))
    return lines


def _report_json(report: RepoReport) -> dict[str, Any]:
    policy = report.policy
    return {
        "where": report.where,
        "policy": {
            "file": policy.file,
            "problems": [p.model_dump() for p in policy.problems],
            "warnings": [w.model_dump() for w in policy.warnings],
        },
        "specs": [
            {
                "file": s.path,
                "id": s.reading.spec_id,
                "version": s.reading.version,
                "is_spec": s.reading.is_spec,
                "valid": s.reading.valid,
                "older_layout": s.older_layout,
                "lifecycle_state": (s.reading.governance or {}).get("lifecycle_state"),
                "problems": [p.model_dump() for p in s.reading.problems],
                "warnings": [w.model_dump() for w in s.reading.warnings],
            }
            for s in report.specs
        ],
        "waivers": [
            {
                "file": w.file,
                "id": w.waiver_id,
                "format": w.generation,
                "status": w.status,
                "valid": w.valid,
                "problems": [p.model_dump() for p in w.problems],
                "warnings": [x.model_dump() for x in w.warnings],
            }
            for w in report.waivers
        ],
        "waiver_warnings": [w.model_dump() for w in report.waiver_warnings],
    }
