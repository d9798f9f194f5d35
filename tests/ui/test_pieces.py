"""The dashboard's pure parts, without a browser: diffs, one-time links, redirects after
signing in, list cursors, and what badges say."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from api.ui import diffs, present, task_query
from api.ui.session import LinkStore, safe_next

DIFF = """diff --git a/src/calc.py b/src/calc.py
index 1111111..2222222 100644
--- a/src/calc.py
+++ b/src/calc.py
@@ -1,3 +1,4 @@
 def double(x):
-    return 2 * x  # old
+    \"\"\"Twice x.\"\"\"
+    return 2 * x
{blank}
diff --git a/docs/ops.md b/docs/ops.md
new file mode 100644
--- /dev/null
+++ b/docs/ops.md
@@ -0,0 +1 @@
+# ops
diff --git a/old.txt b/new.txt
similarity index 100%
rename from old.txt
rename to new.txt
diff --git a/logo.png b/logo.png
new file mode 100644
GIT binary patch
literal 3
KcmZ?wfB*mh

diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-print("bye")
""".replace("{blank}", " ")


def test_a_diff_is_parsed_per_file_with_lines_and_scope() -> None:
    parsed = diffs.parse(DIFF)
    files = {f.path: f for f in parsed.files}
    assert list(files) == ["src/calc.py", "docs/ops.md", "new.txt", "logo.png", "gone.py"]
    calc = files["src/calc.py"]
    assert (calc.status, calc.added, calc.removed) == ("modified", 2, 1)
    kinds = [(line.kind, line.old, line.new) for line in calc.hunks[0].lines]
    assert kinds == [
        ("ctx", 1, 1),
        ("del", 2, None),
        ("add", None, 2),
        ("add", None, 3),
        ("ctx", 3, 4),
    ]
    # Coloured by the file's language: the docstring is a string, `def` a keyword.
    assert 'class="tok-k">def<' in str(calc.hunks[0].lines[0].html)
    assert "tok-s" in str(calc.hunks[0].lines[2].html)
    assert "tok-c" in str(calc.hunks[0].lines[1].html)
    assert files["docs/ops.md"].status == "added"
    assert (files["new.txt"].status, files["new.txt"].old_path) == ("renamed", "old.txt")
    assert files["logo.png"].binary and not files["logo.png"].hunks
    assert (files["gone.py"].status, files["gone.py"].removed) == ("deleted", 1)
    diffs.mark_scope(parsed, {"in": ["src/", "new.txt"], "out": ["docs/"]})
    scopes = {f.path: f.scope for f in parsed.files}
    assert scopes["src/calc.py"] == "in"
    assert scopes["docs/ops.md"] == "out"
    assert scopes["new.txt"] == "outside"  # renamed from a path outside scope.in
    assert scopes["gone.py"] == "outside"


def test_markup_in_a_diff_is_escaped() -> None:
    text = (
        "diff --git a/x.html b/x.html\n--- a/x.html\n+++ b/x.html\n"
        "@@ -0,0 +1 @@\n+<script>alert(1)</script>\n"
    )
    line = diffs.parse(text).files[0].hunks[0].lines[0]
    assert "<script>" not in str(line.html) and "&lt;" in str(line.html)


def test_a_huge_diff_is_cut_but_every_file_listed() -> None:
    body = "".join(f"+line {i}\n" for i in range(diffs.MAX_LINES + 10))
    text = f"diff --git a/a.txt b/a.txt\n--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n{body}"
    text += "diff --git a/b.txt b/b.txt\n--- /dev/null\n+++ b/b.txt\n@@ -0,0 +1 @@\n+b\n"
    parsed = diffs.parse(text)
    assert parsed.truncated and [f.path for f in parsed.files] == ["a.txt", "b.txt"]
    assert parsed.files[0].added == diffs.MAX_LINES + 10


def test_a_one_time_link_works_once_and_expires() -> None:
    links = LinkStore()
    token, _ = links.mint("0123456789ab", ttl_s=60)
    assert links.redeem(token) == "0123456789ab"
    assert links.redeem(token) is None
    stale, _ = links.mint("0123456789ab", ttl_s=60)
    links.pending = {d: (k, time.time() - 1) for d, (k, _) in links.pending.items()}
    assert links.redeem(stale) is None
    assert links.redeem("made-up") is None
    # Only digests are kept: the token itself is nowhere in the store.
    kept, _ = links.mint("0123456789ab", ttl_s=60)
    assert kept not in repr(links.pending)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/tasks?phase=executing", "/ui/tasks?phase=executing"),
        ("https://evil.example/ui/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/ui/\\evil", "/ui/"),
        ("/api/v1/keys", "/ui/"),
        (None, "/ui/"),
    ],
)
def test_only_dashboard_paths_are_followed_after_signing_in(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected


def test_list_cursors_round_trip_and_refuse_forgeries() -> None:
    row = SimpleNamespace(
        id="b" * 36,
        phase="awaiting_approval",
        paused=False,
        created_at=datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
        updated_at=datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
    )
    for sort in task_query.ORDERS:
        cursor = task_query.encode_cursor(sort, row)
        values = task_query.decode_cursor(sort, cursor)
        assert values[-1] == row.id
    with pytest.raises(ValueError, match="invalid cursor"):
        task_query.decode_cursor("newest", task_query.encode_cursor("oldest", row))
    with pytest.raises(ValueError, match="invalid cursor"):
        task_query.decode_cursor("newest", "not-a-cursor")


def test_badges_say_it_in_words_and_symbols() -> None:
    badge = str(present.phase_badge("awaiting_approval"))
    assert "awaiting approval" in badge and 'aria-hidden="true"' in badge
    assert "paused" in str(present.phase_badge("executing", paused=True))
    assert present.waiting_for("awaiting_approval", pending_action="approve").startswith("a human")
    assert present.waiting_for("executing") == "an executor (agent)"
    assert present.waiting_for("completed") == ""
    assert present.repo_name("/srv/git/payments.git") == "payments"
