"""The demo's coding agent, copied into the demo repository as `tools/agent.py`.

It edits the repository it lives in the way a real coding agent would, so that the
council has something true to judge:

    python tools/agent.py SCENARIO [FEATURE]

SCENARIO (or AGENCY_DEMO_SCENARIO):
  in_scope      add FEATURE to src/greeting.py and a test for it under tests/
  out_of_scope  the same, and also edit docs/ops.md, which the task's scope excludes
FEATURE: farewell (default) or shout.

It only uses the standard library: it runs inside the executor's sandbox.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("in_scope", "out_of_scope")

FEATURES = {
    "farewell": (
        'def farewell(name: str) -> str:\n    """Say goodbye to someone."""\n'
        '    return f"Goodbye, {name}!"\n',
        "from greeting import farewell\n\n\n"
        "def test_farewell_names_the_person() -> None:\n"
        '    assert farewell("Ada") == "Goodbye, Ada!"\n',
    ),
    "shout": (
        'def shout(name: str) -> str:\n    """Greet someone loudly."""\n'
        "    return greet(name).upper()\n",
        "from greeting import shout\n\n\n"
        "def test_shout_is_upper_case() -> None:\n"
        '    assert shout("Ada") == "HELLO, ADA!"\n',
    ),
}


def add_feature(feature: str) -> list[Path]:
    function, test = FEATURES[feature]
    module = ROOT / "src" / "greeting.py"
    source = module.read_text(encoding="utf-8")
    # Idempotent: a refinement iteration runs the agent again on its own earlier edit.
    if f"def {feature}(" not in source:
        module.write_text(source.rstrip("\n") + "\n\n\n" + function, encoding="utf-8")
    test_file = ROOT / "tests" / f"test_{feature}.py"
    test_file.write_text(test, encoding="utf-8")
    return [module, test_file]


def edit_ops_doc() -> Path:
    doc = ROOT / "docs" / "ops.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Operations\n"
    marker = "## Restart after deploy"
    if marker not in text:
        text = text.rstrip("\n") + f"\n\n{marker}\n\nRestart the service after each deploy.\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    return doc


def main(argv: list[str]) -> int:
    scenario = argv[1] if len(argv) > 1 else os.environ.get("AGENCY_DEMO_SCENARIO", "in_scope")
    feature = argv[2] if len(argv) > 2 else "farewell"
    if scenario not in SCENARIOS or feature not in FEATURES:
        print(
            f"usage: agent.py {{{'|'.join(SCENARIOS)}}} [{'|'.join(FEATURES)}]",
            file=sys.stderr,
        )
        return 2
    touched = add_feature(feature)
    if scenario == "out_of_scope":
        touched.append(edit_ops_doc())
    for path in touched:
        print(f"edited {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
