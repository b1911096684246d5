"""Every shell block shown in README.md and docs/*.md is run (or checked) by a test.

The convention is in tests/doc_blocks.py and docs/README.md: a named block
(``<!-- doc-block: NAME -->`` above the fence) and a test that calls
``run_doc_block("PAGE", "NAME", ...)`` or ``doc_block("PAGE", "NAME")``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.doc_blocks import REPO, doc_block, shell_blocks

# A use is the call itself, with both names as literals, so the check can read it.
USE = re.compile(r"""\b(?:run_)?doc_block\(\s*["']([^"']+)["']\s*,\s*["']([^"']+)["']""")
THIS_CHECK = {Path(__file__).resolve(), (REPO / "tests" / "doc_blocks.py").resolve()}


def uses() -> dict[tuple[str, str], list[str]]:
    """(page, name) -> the test files that run or check that block."""
    found: dict[tuple[str, str], list[str]] = {}
    for folder in ("tests", "examples"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.resolve() in THIS_CHECK:
                continue
            for page, name in USE.findall(path.read_text(encoding="utf-8")):
                found.setdefault((page, name), []).append(path.relative_to(REPO).as_posix())
    return found


def test_every_shell_block_has_a_name() -> None:
    unnamed = [block.where() for block in shell_blocks() if block.name is None]
    assert unnamed == [], (
        "name each block with <!-- doc-block: NAME --> on the line above its fence, and "
        "run it from a test with run_doc_block(PAGE, NAME, ...) (see docs/README.md)"
    )


def test_block_names_are_unique_in_their_page() -> None:
    names = Counter((block.page, block.name) for block in shell_blocks() if block.name)
    assert [key for key, count in names.items() if count > 1] == []


def test_every_named_block_is_used_by_a_test() -> None:
    used = uses()
    unused = [
        f"{block.where()} ({block.name})"
        for block in shell_blocks()
        if block.name and (block.page, block.name) not in used
    ]
    assert unused == [], "no test calls run_doc_block/doc_block with these (page, name)"


def test_every_use_names_a_block_that_exists() -> None:
    missing = []
    for (page, name), files in uses().items():
        try:
            doc_block(page, name)
        except (KeyError, FileNotFoundError):
            missing.append(f"{page} {name} (used by {', '.join(files)})")
    assert missing == []


def test_the_check_sees_blocks_and_uses() -> None:
    # Guards the check itself: a parser that found nothing would pass everything above.
    assert any(block.page == "README.md" for block in shell_blocks())
    assert ("README.md", "setup-serve") in uses()
