"""Commits that fail: a full disk, and I/O errors. Every answer is either acknowledged
and durable, or an error whose change is not visible; when the disk is back, no restart
loses an acknowledged change.

Both tests run the mixed load of harness.Load against ``lgmock serve --state-file``
while commits fail, then read the whole state and compare it with the client-side model
(harness.History): each device at its last acknowledged target temperature (never at
one whose control answered 500), every fault rule, device, DR group and event whose add
answered 2xx present and none whose add answered 500. Then the disk is repaired, the
load goes on (now every answer must be a 2xx), the server is killed with SIGKILL and
restarted on the same file, and the model is checked again, callbacks included: every
device's callback of each acknowledged ThinQ call arrives, none of a call answered 500.

- Disk full: the state file on a 16 MB tmpfs, filled up to its last byte by another file
  (3 MB was too small: the write-ahead log alone grew to 2.7 MB once space returned, and
  the restart then had no room for SQLite's shared-memory file)
  (mounting needs root: CI runs as root; elsewhere the test is skipped, saying so).
- I/O errors: tests/faults/failing_commits.py (its docstring says why that injection)
  makes 30% of the state file's commits fail with SQLite's ``disk I/O error``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver
from tests.faults.harness import (
    ACKED,
    COMMIT_FAILED,
    FAILED,
    History,
    Load,
    Sandbox,
    delivered_thinq,
    fault_scenario,
    kr_devices,
    replay_hint,
    run_load,
    seed_for_run,
    summary,
    unexpected_tracebacks,
)
from tests.support import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTROL_CLIENTS = 4
FAILING_SECONDS = 4.0
REPAIRED_SECONDS = 2.5
WRITE_KINDS = ("control", "thinq", "dr-group", "fault", "device")


def state_of(sandbox: Sandbox) -> dict:
    """The whole state. While commits fail, a read may answer the failed-commit 500 too:
    every answer waits for what is owed to the file (delivery attempts the ticker could
    not write), so the read is tried again, as a client would."""
    with httpx.Client(base_url=sandbox.base_url, timeout=30) as http:
        for _ in range(20):
            answer = http.get("/_sandbox/state")
            if not (answer.status_code == 500 and COMMIT_FAILED in answer.text):
                break
    assert answer.status_code == 200, answer.text
    return answer.json()


def failing_then_repaired(
    sandbox: Sandbox,
    receiver: CallbackReceiver,
    seed: int,
    *,
    fail: object,
    repair: object,
    restart_env: dict[str, str] | None = None,
) -> History:
    """The load while commits fail, the checks, the repair, more load, kill -9, restart,
    the checks again. ``fail`` and ``repair`` are callables that break and mend the disk."""
    history = History()
    history.thinq_devices = kr_devices(state_of(sandbox))
    rng = random.Random(seed)
    fail()  # type: ignore[operator]
    asyncio.run(
        run_load(
            Load(history, rng, controls=CONTROL_CLIENTS, commit_errors=True),
            sandbox.base_url,
            FAILING_SECONDS,
        )
    )
    history.check_state(state_of(sandbox), "while commits failed")
    failing = {kind: counts.get(FAILED, 0) for kind, counts in history.writes.items()}
    repair()  # type: ignore[operator]
    before = {kind: counts.get(ACKED, 0) for kind, counts in history.writes.items()}
    asyncio.run(
        run_load(Load(history, rng, controls=CONTROL_CLIENTS), sandbox.base_url, REPAIRED_SECONDS)
    )
    history.check_state(state_of(sandbox), "once the disk was back")
    sandbox.kill9()
    sandbox.start(env=restart_env)
    history.check_state(state_of(sandbox), "after kill -9 and a restart")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not history.owed_callbacks() <= delivered_thinq(
        receiver
    ):
        time.sleep(0.2)
    time.sleep(1.0)  # a callback of a failed call, were one sent, has had time to arrive
    history.check_callbacks(delivered_thinq(receiver), "at the end")
    history.failing = failing  # type: ignore[attr-defined]
    history.acked_after_repair = {  # type: ignore[attr-defined]
        kind: counts.get(ACKED, 0) - before.get(kind, 0) for kind, counts in history.writes.items()
    }
    return history


def assert_held(history: History, sandbox: Sandbox, hint: str, *expected_errors: str) -> None:
    assert not history.problems, f"{hint}\n" + "\n".join(history.problems[:30])
    # The faults did happen, to writes of every kind, and the repaired disk took writes.
    failing = history.failing  # type: ignore[attr-defined]
    assert sum(failing.values()) >= 5, (hint, summary(history))
    for kind in WRITE_KINDS:
        assert history.acked(kind) > 0, (hint, kind, summary(history))
    after_repair = sum(history.acked_after_repair.values())  # type: ignore[attr-defined]
    assert after_repair >= 10, (hint, after_repair, summary(history))
    problems = unexpected_tracebacks(sandbox.logs, *expected_errors)
    assert not problems, f"{hint}\n" + "\n".join(problems[:5])


def test_io_errors_during_commits_answer_errors_whose_changes_are_not_visible(
    tmp_path: Path,
) -> None:
    seed = seed_for_run()
    hint = replay_hint(seed, "tests/faults/test_commit_failures.py -k io_errors")
    receiver = CallbackReceiver().start()
    sandbox = Sandbox(tmp_path, fault_scenario(receiver.url, CONTROL_CLIENTS))
    switch = tmp_path / "the-disk-fails"
    launcher = [sys.executable, "-m", "tests.faults.failing_commits"]
    env = {
        "PYTHONPATH": str(REPO),
        "LGMOCK_FAULT_DB": str(sandbox.state_file),
        "LGMOCK_FAULT_SWITCH": str(switch),
        "LGMOCK_FAULT_RATE": "0.3",
        "LGMOCK_FAULT_SEED": str(seed),
    }
    began = time.monotonic()
    try:
        sandbox.start(command=launcher, env=env)
        history = failing_then_repaired(
            sandbox, receiver, seed, fail=switch.touch, repair=switch.unlink
        )
    except Exception as exc:
        raise AssertionError(f"{hint}\n{type(exc).__name__}: {exc}") from exc
    finally:
        sandbox.stop()
        receiver.stop()
    assert_held(history, sandbox, hint, "disk I/O error")
    print(
        f"\nFIGURES I/O errors: {sum(history.failing.values())} writes answered 500"  # type: ignore[attr-defined]
        f" ({summary(history)}), {history.checks} checks of acknowledged writes, 0 lost,"
        f" 0 errors visible; {time.monotonic() - began:.0f} s (seed {seed})"
    )


def fill(path: Path) -> int:
    """Write ``path`` until the file system is full; the bytes written."""
    written = 0
    chunk = b"\0" * 4096
    with path.open("wb", buffering=0) as filler:
        while True:
            try:
                written += filler.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return written


def test_a_full_disk_answers_errors_and_loses_nothing_once_space_returns(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting the small tmpfs that fills up needs root (CI runs as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"this root may not mount a tmpfs here: {mounted.stderr.strip()}")
    seed = seed_for_run()
    hint = replay_hint(seed, "tests/faults/test_commit_failures.py -k full_disk")
    receiver = CallbackReceiver().start()
    sandbox = Sandbox(tmp_path, fault_scenario(receiver.url, CONTROL_CLIENTS), state_dir=disk)
    filler = disk / "filler"
    began = time.monotonic()
    try:
        sandbox.start()
        history = failing_then_repaired(
            sandbox, receiver, seed, fail=lambda: fill(filler), repair=filler.unlink
        )
    except Exception as exc:
        raise AssertionError(f"{hint}\n{type(exc).__name__}: {exc}") from exc
    finally:
        sandbox.stop()
        receiver.stop()
        subprocess.run(["umount", "-l", str(disk)], check=False)
    assert_held(history, sandbox, hint, "database or disk is full", "No space left on device")
    print(
        f"\nFIGURES disk full: {sum(history.failing.values())} writes answered 500"  # type: ignore[attr-defined]
        f" ({summary(history)}), {history.checks} checks of acknowledged writes, 0 lost,"
        f" 0 errors visible; {time.monotonic() - began:.0f} s (seed {seed})"
    )
