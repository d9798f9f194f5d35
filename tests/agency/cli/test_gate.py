"""`agency gate placeholders`: unfinished work fails the gate (exit 1, `file:line: what`),
exactly what the technical judge flags; clean source passes (0); bad input is 2. Test
files are left out unless asked for. Markers are written in pieces here so that this
file does not hold them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agency.cli.main import app
from council.judges import technical
from council.markers import UNFINISHED_MARKERS, unfinished

ROOT = Path(__file__).resolve().parents[3]
TO_DO = "TO" + "DO"
STUB = "raise " + "NotImpl" + "ementedError"
# Every kind, with a line of each (and what is not a marker).
KINDS = {
    "a placeholder marker": [
        f"# {TO_DO}: retry",
        "x = 1  # " + "FIX" + "ME",
        "# " + "X" + "XX wrong",
        "# " + "HA" + "CK around it",
        "value = " + "PLACE" + "HOLDER",
    ],
    "an unimplemented stub": [f"    {STUB}", "    raise " + "NotImpl" + "emented"],
    "a commented 'pass' stub": ["    pass  # later"],
}
NOT_MARKERS = ["todo_items = []", "# Mastodon", "    pass", "hackathon = 1", "placeholder = ''"]


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["gate", "placeholders", *args])


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("what", list(KINDS))
def test_each_kind_is_named_with_its_file_and_line(tmp_path: Path, what: str) -> None:
    for i, line in enumerate(KINDS[what]):
        src = write(tmp_path / f"r{i}", {"src/app.py": f"import os\n\n{line}\n"})
        result = run(str(src))
        assert result.exit_code == 1, result.output
        assert f"src/app.py:3: {what}" in result.stdout.replace(str(src) + "/", "")


def test_clean_source_passes_and_says_what_it_checked(tmp_path: Path) -> None:
    src = write(tmp_path, {"src/app.py": "\n".join(NOT_MARKERS), "README.md": "# App\n"})
    result = run(str(src))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "2 file(s) checked; unfinished work: none" in result.stderr


def test_tests_hidden_dirs_and_binaries_are_left_out(tmp_path: Path) -> None:
    marked = f"# {TO_DO}\n"
    src = write(
        tmp_path,
        {
            "tests/test_app.py": marked,
            "src/app_test.go": marked,
            "web/app.spec.ts": marked,
            ".venv/lib/x.py": marked,
            "node_modules/x/index.js": marked,
            "src/app.py": "ok = True\n",
        },
    )
    (src / "src" / "blob.bin").write_bytes(b"\x00\x01" + marked.encode())
    assert run(str(src)).exit_code == 0
    with_tests = run(str(src), "--include-tests", "--json")
    assert with_tests.exit_code == 1
    found = {f["path"].rsplit("/", 1)[-1] for f in json.loads(with_tests.stdout)["findings"]}
    assert found == {"test_app.py", "app_test.go", "app.spec.ts"}
    excluded = run(str(src), "--include-tests", "--exclude", "tests/*", "--exclude", "*.go")
    assert excluded.exit_code == 1
    assert "app.spec.ts" in excluded.stdout and "test_app.py" not in excluded.stdout


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


def test_the_gate_and_the_technical_judge_share_their_markers() -> None:
    assert technical.UNFINISHED_MARKERS is UNFINISHED_MARKERS
    for what, lines in KINDS.items():
        for line in lines:
            assert unfinished(line) == [what], line
    for line in NOT_MARKERS:
        assert unfinished(line) == [], line


def test_our_source_tree_passes_its_own_gate() -> None:
    """What `make lint` runs on the Makefile's SOURCE_DIRS, as a user's CI would."""
    makefile = (ROOT / "Makefile").read_text()
    declared = re.search(r"^SOURCE_DIRS\s*:?=(.*)$", makefile, re.MULTILINE)
    assert declared, "the Makefile names its SOURCE_DIRS"
    dirs = declared.group(1).split()
    assert {"agency", "api", "council", "workflows", "activities"} <= set(dirs)
    gate = subprocess.run(
        [sys.executable, "-m", "agency.cli", "gate", "placeholders", *dirs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gate.returncode == 0, gate.stdout + gate.stderr
