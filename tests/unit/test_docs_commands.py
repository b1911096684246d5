"""Every command shown in README.md and docs/*.md is exercised by a test.

Shell blocks are run (or checked) by a named test; inline `lgmock ...` commands in the
prose must be command lines `lgmock`'s own parser accepts.

The convention is in tests/doc_blocks.py and docs/README.md: a named block
(``<!-- doc-block: NAME -->`` above the fence) and a test that calls
``run_doc_block("PAGE", "NAME", ...)`` or ``doc_block("PAGE", "NAME")``.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections import Counter
from pathlib import Path

from mockserver.cli import build_parser
from tests.doc_blocks import REPO, doc_block, doc_pages, shell_blocks

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


# ------------------------------------------------------------------ inline `lgmock ...`

# Placeholders the pages write for numbers (argparse checks their type).
NUMBER_PLACEHOLDERS = {"N": "1", "P": "1"}


def inline_lgmock_commands() -> list[tuple[str, str]]:
    """(page, command) for every inline code span that is an `lgmock` command line.

    Fenced blocks are left out (they are run, above); a span may wrap across lines, as
    Markdown allows."""
    found = []
    for path in doc_pages():
        page = path.relative_to(REPO).as_posix()
        prose = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
        for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", prose):
            command = " ".join(span.split())
            if command.startswith("lgmock "):
                found.append((page, command))
    return found


def parse_error(command: str) -> str | None:
    """What `lgmock`'s own parser says about a command line; None when it accepts it, or
    when it only misses required options (the page names a command, not a whole call)."""
    argv = [NUMBER_PLACEHOLDERS.get(word, word) for word in shlex.split(command)[1:]]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as exit_:
        message = errors.getvalue().strip().splitlines()[-1] if errors.getvalue() else ""
        if exit_.code == 0 or "the following arguments are required" in message:
            return None
        return message or f"exit {exit_.code}"
    return None


def test_every_inline_lgmock_command_is_one_lgmock_accepts() -> None:
    commands = inline_lgmock_commands()
    assert len(commands) > 10  # the check sees the pages' commands at all
    refused = [
        f"{page}: `{command}`: {error}"
        for page, command in commands
        if (error := parse_error(command)) is not None
    ]
    assert refused == [], "\n".join(refused)


def test_the_inline_check_refuses_what_lgmock_refuses() -> None:
    assert parse_error("lgmock clock advance 90m") is None
    assert parse_error("lgmock fault add --operation getDevices --error 4304") is None
    assert "invalid choice" in (parse_error("lgmock clock rewind") or "")
    assert "unrecognized arguments" in (parse_error("lgmock fault add --colour red") or "")
