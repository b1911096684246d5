"""The one process launcher: a child's whole process group stops with it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from contract_tests.processes import ChildProcess, LaunchError, ServeProcess


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is in the group (from /proc: a zombie's parent
    may be slow to reap it, and it still counts as a member for kill(2))."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def test_stop_ends_the_children_of_the_child_too(tmp_path: Path) -> None:
    # A shell that starts a grandchild and waits: what npx -> sh -> node looks like.
    child = ChildProcess(["sh", "-c", "sleep 60 & echo started; wait"], log_path=tmp_path / "l")
    deadline = time.monotonic() + 10
    while "started" not in child.log() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.alive() and group_alive(child.pid)
    child.stop(timeout=5)
    assert not child.alive()
    assert not group_alive(child.pid), "the grandchild outlived stop()"


def test_kill_is_immediate(tmp_path: Path) -> None:
    child = ChildProcess(["sh", "-c", "trap '' TERM; sleep 60"], log_path=tmp_path / "l")
    started = time.monotonic()
    child.kill(timeout=5)
    assert not child.alive() and time.monotonic() - started < 5


def test_a_server_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(LaunchError) as failed:
        ServeProcess("--scenario", str(tmp_path / "missing.yaml"), log_path=tmp_path / "s.log")
    assert "exited" in str(failed.value) and "missing.yaml" in str(failed.value)
