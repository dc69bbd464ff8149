"""The README and docs/ pages: no dead relative link, and a README read in five minutes.

Links are read with markdown-it-py (the CommonMark parser rich ships with), so links in code blocks and
code spans are not links, and reference-style links count like inline ones. An anchor (``page.md#a-heading``,
``#a-heading``) must name a heading of the page it points into, spelled as GitHub spells it: lower case,
punctuation dropped, each space a ``-``, ``-1``, ``-2``... after a repeated heading.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 250

_md = MarkdownIt("commonmark").enable("table")
_HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def checked_pages() -> list[Path]:
    """The pages whose links must hold: the README, docs/, the model card and the checkpoints' READMEs."""
    pages = [README, ROOT / "ferstream" / "models" / "README.md"]
    pages += sorted((ROOT / "docs").rglob("*.md"))
    pages += sorted((ROOT / "checkpoints").rglob("README.md"))
    return [page for page in pages if page.is_file()]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _inline_text(token) -> str:
    return "".join(child.content for child in token.children or [] if child.type in ("text", "code_inline"))


def anchors(page: Path) -> set[str]:
    """Every anchor a page has: its headings' (as GitHub numbers repeats) and its HTML ``<a id/name>``."""
    tokens = _md.parse(page.read_text(encoding="utf-8"))
    seen: Counter[str] = Counter()
    found: set[str] = set()
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            slug = github_anchor(_inline_text(tokens[i + 1]))
            found.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
            seen[slug] += 1
        if token.type in ("html_block", "html_inline", "inline"):
            found.update(_HTML_ANCHOR.findall(token.content))
    return found


def links(page: Path) -> list[str]:
    """Every link and image target of a page, as written (code blocks and code spans hold none)."""
    targets = []
    for token in _md.parse(page.read_text(encoding="utf-8")):
        for child in token.children or []:
            if child.type == "link_open":
                targets.append(child.attrs["href"])
            elif child.type == "image":
                targets.append(child.attrs["src"])
    return targets


def dead_links(page: Path, root: Path = ROOT) -> list[str]:
    """The relative links of ``page`` that name no file in ``root``, or no anchor of the page they point into."""
    dead = []
    for target in links(page):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:  # https:, mailto:: not ours to check offline
            continue
        path = unquote(parts.path)
        into = page if not path else (page.parent / path).resolve()
        if path.startswith("/") or not into.is_relative_to(root.resolve()):
            dead.append(f"{target}: outside the repository")
        elif not into.exists():
            dead.append(f"{target}: no such file")
        elif parts.fragment and into.suffix == ".md" and unquote(parts.fragment) not in anchors(into):
            dead.append(f"{target}: {into.name} has no heading #{parts.fragment}")
    return dead


@pytest.mark.parametrize("page", checked_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_dead_relative_link(page: Path):
    assert not dead_links(page), f"{page.relative_to(ROOT)}: " + "; ".join(dead_links(page))


def test_the_checker_finds_dead_files_and_anchors(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Measured ceilings: the write path\n\n## Notes\n\n## Notes\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n## Using `ferstream.analyze`, again\n\n"
        "[ok](docs/page.md) [ok](docs/page.md#measured-ceilings-the-write-path) [ok](docs/page.md#notes-1)\n"
        "[ok](#using-ferstreamanalyze-again) [ok](https://example.org/nowhere) ![ok](docs/page.md)\n"
        "[gone](docs/gone.md) [bad](docs/page.md#measured-ceilings) [bad](#title-1) ![gone](docs/gone.png)\n"
        "[up](../outside.md)\n\n"
        "```\n[in code](docs/gone-too.md)\n```\n\n`[in a span](docs/gone-too.md)`\n\n"
        "[ref][r]\n\n[r]: docs/missing.md\n"
    )
    assert dead_links(readme, root=tmp_path) == [
        "docs/gone.md: no such file",
        "docs/page.md#measured-ceilings: page.md has no heading #measured-ceilings",
        "#title-1: README.md has no heading #title-1",
        "docs/gone.png: no such file",
        "../outside.md: outside the repository",
        "docs/missing.md: no such file",
    ]


def test_github_anchor():
    assert github_anchor("Measured ceilings: the write path") == "measured-ceilings-the-write-path"
    assert github_anchor("ferstream beside fer") == "ferstream-beside-fer"
    assert github_anchor("Where it runs (CPU, 2 cores)") == "where-it-runs-cpu-2-cores"
    assert github_anchor("ms per face, batch_32") == "ms-per-face-batch_32"


def linked_pages(page: Path) -> set[Path]:
    """The Markdown files of the repository a page links to."""
    targets = {(page.parent / unquote(urlsplit(t).path)).resolve() for t in links(page) if not urlsplit(t).scheme}
    return {t for t in targets if t.suffix == ".md" and t.is_file() and t.is_relative_to(ROOT)}


def test_readme_is_short_and_every_docs_page_is_reached_from_it():
    assert len(README.read_text(encoding="utf-8").splitlines()) < MAX_README_LINES
    reached, todo = set(), [README.resolve()]
    while todo:
        page = todo.pop()
        if page not in reached:
            reached.add(page)
            todo.extend(linked_pages(page))
    pages = sorted((ROOT / "docs").rglob("*.md"))
    assert pages, "docs/ has no pages"
    assert [str(p.relative_to(ROOT)) for p in pages if p.resolve() not in reached] == []
    topics = [p for p in pages if p.parent == ROOT / "docs"]
    assert [p.name for p in topics if p.resolve() not in linked_pages(README)] == [], "topic pages the README does not link"


def test_readme_first_screen_holds_the_set_up_commands():
    first_screen = README.read_text(encoding="utf-8").splitlines()[:25]
    assert any(line.startswith("make demo ") for line in first_screen)
    assert any(line.startswith("make test ") for line in first_screen)
