"""The documentation holds together: README.md and docs/*.md.

- Every relative link (and image) points at a file or directory of the repository, and a
  `#anchor` names a heading of the target document, slugged as GitHub does (lowercase,
  punctuation dropped, spaces to hyphens, `-1`, `-2` … for repeated headings).
- No link leaves the repository through `..`.
- The README stays a front page: under README_MAX_LINES lines, pointing at every
  document in docs/.

Links inside fenced code blocks and inline code are not links and are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 300

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
# A code span may wrap onto the next line, never past a paragraph's end.
INLINE_CODE = re.compile(r"(`+)((?:(?!\n[ \t]*\n).)+?)\1", re.DOTALL)
# [text](target) and ![alt](target), with an optional "title".
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = FENCE.match(line)
        if fence is None:
            if opened:
                fence = opened.group(1)
                continue
            yield number, line
        elif opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
            fence = None


def heading_text(raw: str) -> str:
    """A heading's text as GitHub renders it: code spans keep their content, links their
    text, images nothing."""
    text = INLINE_CODE.sub(lambda m: m.group(2).strip(), raw)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)


def slug(text: str) -> str:
    """GitHub's anchor for a heading: lowercase, drop what is neither a letter, a digit,
    an underscore, a hyphen nor a space, then spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading_text(text).lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}: ({self.target})"


def links(path: Path) -> Iterator[Link]:
    """Every link of the document, also one whose text wraps onto the next line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    prose = dict(prose_lines("\n".join(lines)))
    text = "\n".join(prose.get(n, "") for n in range(1, len(lines) + 1))
    # Code spans become blank (their line breaks kept, so line numbers stay right).
    text = INLINE_CODE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for match in LINK.finditer(text):
        yield Link(path, text.count("\n", 0, match.start()) + 1, match.group(1))


def problem(link: Link) -> str | None:
    """Why a link does not resolve, or None when it does (or is not relative)."""
    target = link.target
    if not target or SCHEME.match(target) or target.startswith("//"):
        return None
    path_part, _, anchor = target.partition("#")
    if path_part:
        base = ROOT if path_part.startswith("/") else link.source.parent
        resolved = (base / unquote(path_part).lstrip("/")).resolve()
        if not resolved.is_relative_to(ROOT):
            return "leaves the repository"
        if not resolved.exists():
            return "no such file"
    else:
        resolved = link.source
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"no heading with the anchor #{anchor} in {resolved.relative_to(ROOT)}"
    return None


def test_there_are_documents_and_links() -> None:
    assert len(documents()) > 1
    assert any(True for doc in documents() for _ in links(doc))


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = [f"{link}: {why}" for link in links(doc) if (why := problem(link))]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it under {README_MAX_LINES} and move "
        "details into docs/"
    )


def test_readme_points_at_every_document() -> None:
    linked = {
        (README.parent / link.target.partition("#")[0]).resolve()
        for link in links(README)
        if not SCHEME.match(link.target)
    }
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md does not link to: {missing}"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("CAWS files: what is read, from where", "caws-files-what-is-read-from-where"),
        ("Judges' assessments", "judges-assessments"),
        ("The API (bench/api.py)", "the-api-benchapipy"),
        ("Live streams (SSE)", "live-streams-sse"),
        ("`agency verify` and `replay`", "agency-verify-and-replay"),
        ("snake_case stays", "snake_case-stays"),
    ],
)
def test_slugs_follow_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_links_are_found_where_markdown_has_them(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "See [a link that\nwraps](one.md#here) and `[code](not-a-link.md)`.\n\n"
        "```sh\necho [fenced](not-either.md)\n```\n\n![a picture](images/x.png)\n"
    )
    assert [(link.line, link.target) for link in links(doc)] == [
        (1, "one.md#here"),
        (8, "images/x.png"),
    ]


def test_a_broken_link_is_reported() -> None:
    doc = DOCS / "api.md"
    assert problem(Link(doc, 1, "nowhere.md")) == "no such file"
    assert problem(Link(doc, 1, "../../outside.md")) == "leaves the repository"
    assert problem(Link(doc, 1, "cli.md#no-such-heading")) is not None
    assert problem(Link(doc, 1, "#routes")) is None
    assert problem(Link(doc, 1, "https://example.org/x.md")) is None
