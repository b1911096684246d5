"""The shell blocks of README.md and docs/*.md: found by name, run as written.

The convention (docs/README.md says it for writers):

- every fenced shell block (```bash, ```sh, ```shell, ```console) in README.md or a
  page of docs/ has a name, on the line just above it::

      <!-- doc-block: first-call -->
      ```bash
      curl -s http://127.0.0.1:8080/_sandbox/health
      ```

- some test under tests/ or examples/ calls ``run_doc_block("README.md", "first-call",
  ...)`` (or ``doc_block(...)`` when it checks the text another way, as
  tests/unit/test_readme.py does for the set-up commands CI runs) and asserts what the
  page says the block does. tests/unit/test_docs_commands.py fails for a block without a
  name, a name no test uses, and a name a test uses that no page has.

``run_doc_block`` runs the text itself, not a copy: a page cannot drift from its test.
It runs it with bash (``set -euo pipefail``) from the repository's root, with this
Python's scripts first on PATH (so ``lgmock`` and ``.venv/bin/lgmock`` are this
checkout's), the documented ports replaced by the test's (8080 by the test's sandbox,
8090, the pages' example port of a second server the reader runs, such as a receiver of
theirs or ``lgmock record``'s proxy, by ``receiver_port``) and
``LGMOCK_SANDBOX_URL`` set to the sandbox. A line ending in ``&`` (a receiver, say)
starts in the background: its output goes to a log, the block goes on once that log has
a first line, and it is stopped when the block ends.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHELLS = ("bash", "sh", "shell", "console")
DEFAULT_SANDBOX_PORT = 8080
# No lgmock default: a second server the reader runs on a port of theirs (callbacks go
# to the sandbox's inbox unless a receiver is registered).
DEFAULT_RECEIVER_PORT = 8090

_FENCE = re.compile(r"^```(\S*)\s*$")
_NAME = re.compile(r"^<!--\s*doc-block:\s*([\w.-]+)\s*-->\s*$")
_BACKGROUND = re.compile(r"^(?P<command>.*[^&\s])\s+&\s*(?P<comment>#.*)?$")


@dataclass(frozen=True)
class DocBlock:
    page: str  # relative to the repository: "README.md", "docs/dr.md"
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    name: str | None = None

    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class DocRun:
    """What running a block printed; ``background`` holds each ``&`` command's log."""

    returncode: int
    stdout: str
    stderr: str
    background: list[str] = field(default_factory=list)

    def check(self) -> DocRun:
        assert self.returncode == 0, self.explain()
        return self

    def explain(self) -> str:
        logs = "".join(f"\n--- background {i}\n{log}" for i, log in enumerate(self.background))
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}{logs}"


def doc_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@cache
def page_blocks(page: str) -> tuple[DocBlock, ...]:
    """Every fenced block of one page, shell or not, with its name if it has one."""
    lines = (REPO / page).read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        above = lines[index - 1] if index else ""
        named = _NAME.match(above)
        blocks.append(
            DocBlock(
                page=page,
                line=index + 1,
                language=opening.group(1).lower(),
                text="\n".join(lines[index + 1 : end]) + "\n",
                name=named.group(1) if named else None,
            )
        )
        index = end + 1
    return tuple(blocks)


def shell_blocks() -> list[DocBlock]:
    return [
        block
        for path in doc_pages()
        for block in page_blocks(path.relative_to(REPO).as_posix())
        if block.language in SHELLS
    ]


def doc_block(page: str, name: str) -> DocBlock:
    for block in page_blocks(page):
        if block.name == name:
            return block
    raise KeyError(f"{page} has no block named {name!r} (<!-- doc-block: {name} -->)")


def run_doc_block(
    page: str,
    name: str,
    *,
    sandbox: str,
    receiver_port: int | None = None,
    timeout: float = 120,
) -> DocRun:
    """Run one named block as a reader would, against the test's sandbox."""
    block = doc_block(page, name)
    sandbox_port = int(sandbox.rsplit(":", 1)[1].split("/")[0])
    script = _with_ports(block.text, {DEFAULT_SANDBOX_PORT: sandbox_port})
    if receiver_port is not None:
        script = _with_ports(script, {DEFAULT_RECEIVER_PORT: receiver_port})
    elif _with_ports(script, {DEFAULT_RECEIVER_PORT: 0}) != script:
        # A fixed port in a parallel run is a collision waiting to happen.
        raise AssertionError(
            f"{block.where()} ({name}) uses port {DEFAULT_RECEIVER_PORT}: pass receiver_port="
        )
    bindir = Path(sys.executable).parent
    script = script.replace(".venv/bin/", f"{bindir}/")
    with tempfile.TemporaryDirectory(prefix="doc-block-") as scratch:
        script, logs = _backgrounded(script, Path(scratch))
        env = {
            **os.environ,
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            "LGMOCK_SANDBOX_URL": sandbox,
            "PYTHONUNBUFFERED": "1",
        }
        # Background commands end with the block; the block's own exit status stands.
        prologue = (
            "set -euo pipefail\ntrap 'jobs -p | xargs -r kill 2>/dev/null || true; wait' EXIT\n"
        )
        try:
            done = subprocess.run(
                ["bash", "-c", prologue + script],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{block.where()} ({name}) ran over {timeout}s: {exc}") from exc
        background = [log.read_text(errors="replace") for log in logs if log.exists()]
    return DocRun(done.returncode, done.stdout, done.stderr, background)


def _with_ports(text: str, ports: dict[int, int]) -> str:
    for default, actual in ports.items():
        text = re.sub(rf"(?<=[:\s]){default}\b", str(actual), text)
    return text


def _backgrounded(script: str, scratch: Path) -> tuple[str, list[Path]]:
    """Each ``command &`` line logs to a file; the block waits for its first line."""
    out, logs = [], []
    for line in script.splitlines():
        match = _BACKGROUND.match(line)
        if not match or match.group("command").rstrip().endswith("&"):
            out.append(line)
            continue
        log = scratch / f"background-{len(logs)}.log"
        logs.append(log)
        out += [
            f"{match.group('command')} > '{log}' 2>&1 &",
            f"for _ in $(seq 300); do [ -s '{log}' ] && break; sleep 0.1; done",
        ]
    return "\n".join(out) + "\n", logs
