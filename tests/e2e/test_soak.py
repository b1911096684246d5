"""The soak benchmark, one minute of it: its targets are the suite's assertions.

benchmarks/soak.py runs 32 clients against a real `lgmock serve --state-file` with a
callback receiver that goes down and comes back, then kills the server with SIGKILL
while callbacks are pending and restarts it. It exits 0 only when nothing unexpected
happened: no 5xx, no other unexpected answer, no socket error, every kind of write
acknowledged a minimum number of times and as many callbacks delivered, no callback
lost, no acknowledged write lost (before and after the crash) and no traceback in the
server's log.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_one_minute_soak_meets_its_targets() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--seconds", "60"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    table = result.stdout
    assert result.returncode == 0, table + result.stderr[-3000:]
    rows = {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("|") for line in table.splitlines() if line.startswith("| "))
    }
    for name in (
        "5xx answers",
        "unexpected answers (not 5xx)",
        "socket errors",
        "callbacks lost",
        "updates lost",
    ):
        assert rows[name] == "0", (name, rows[name])
    assert rows["kill -9 and restart"] == "done"
    assert "targets met" in table
