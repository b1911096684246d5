"""The one home of work after the answer: parts in turn, inline with a state file,
failures logged, stopped when the sandbox is replaced and at shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mockserver.after_answer import AfterAnswer, InThread, Parts
from mockserver.runtime import Runtime

T = TypeVar("T")


def run(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)`` in a thread of its own: a loop another test left running in
    this thread (Playwright's sync API does) must not decide whether this test runs."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


def counting(log: list[str], parts: int) -> Parts:
    try:
        for number in range(parts):
            log.append(f"part {number}")
            yield
    finally:
        log.append("closed")


def test_parts_run_after_the_answer_one_per_turn_of_the_loop() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        after = AfterAnswer(inline=lambda: False)
        after.start("counting", counting(log, 3))
        log.append("answered")  # start returned before any part ran
        assert after.pending() == 1
        while after.pending():
            log.append("other request")
            await asyncio.sleep(0)
        return log

    log = run(scenario())
    assert log[0] == "answered"
    parts = [entry for entry in log if entry.startswith("part")]
    assert parts == ["part 0", "part 1", "part 2"]
    # another request got a turn before the first part and between every two parts
    marks = ["answered", *parts, "closed"]
    for first, second in zip(marks, marks[1:], strict=False):
        assert "other request" in log[log.index(first) + 1 : log.index(second)], log


def test_with_a_state_file_everything_is_done_before_start_returns() -> None:
    log: list[str] = []
    main = threading.get_ident()

    def zipping() -> Parts:
        yield from counting(log, 2)
        where = yield InThread(threading.get_ident)
        log.append("inline" if where == main else "in a thread")

    AfterAnswer(inline=lambda: True).start("zip", zipping())  # no loop needed: inline
    assert log == ["part 0", "part 1", "closed", "inline"]


def test_a_thread_step_runs_in_a_thread_and_its_result_comes_back() -> None:
    async def scenario() -> list[object]:
        got: list[object] = []
        main = threading.get_ident()

        def work() -> Parts:
            yield
            result = yield InThread(lambda: (threading.get_ident() != main, 42))
            got.append(result)

        after = AfterAnswer(inline=lambda: False)
        after.start("threaded", work())
        while after.pending():
            await asyncio.sleep(0.001)
        return got

    assert run(scenario()) == [(True, 42)]


def test_a_failing_part_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def failing() -> Parts:
        yield
        raise RuntimeError("a bug")

    async def scenario() -> list[str]:
        log: list[str] = []
        after = AfterAnswer(inline=lambda: False)
        after.start("DR window opening", failing())
        after.start("counting", counting(log, 2))
        while after.pending():
            await asyncio.sleep(0)
        return log

    with caplog.at_level(logging.ERROR, logger="lgmock"):
        log = run(scenario())
    assert log == ["part 0", "part 1", "closed"]
    failures = [r for r in caplog.records if r.getMessage() == "DR window opening stopped"]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "a bug" in str(failures[0].exc_info[1])


def test_stop_all_cancels_the_work_under_way_and_closes_its_generator() -> None:
    async def scenario() -> list[str]:
        log: list[str] = []
        after = AfterAnswer(inline=lambda: False)
        after.start("counting", counting(log, 1_000))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        after.stop_all()
        while after.pending():
            await asyncio.sleep(0)
        return log

    log = run(scenario())
    assert log[-1] == "closed"
    assert 1 <= len(log) - 1 < 10  # stopped after a part or two, not run to the end


@pytest.mark.parametrize("replace", ["reset", "load"])
def test_replacing_the_sandbox_stops_what_the_old_one_had_under_way(replace: str) -> None:
    document = {"seed": 1, "partners": [], "services": [], "users": [], "devices": []}
    runtime = Runtime(document, "<empty>")

    async def scenario() -> list[str]:
        log: list[str] = []
        runtime.after_answer.start("counting", counting(log, 1_000))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        runtime.reset() if replace == "reset" else runtime.load(document, "<again>")
        while runtime.after_answer.pending():
            await asyncio.sleep(0)
        return log

    log = run(scenario())
    assert log[-1] == "closed" and len(log) < 10


def test_with_a_state_file_the_runtime_runs_work_inline(tmp_path: Path) -> None:
    scenario_file = tmp_path / "empty.yaml"
    scenario_file.write_text("seed: 1\n", encoding="utf-8")
    runtime = Runtime.with_state_file(tmp_path / "state.db", scenario_file)
    try:
        log: list[str] = []
        runtime.after_answer.start("counting", counting(log, 3))  # no loop running
        assert log == ["part 0", "part 1", "part 2", "closed"]
    finally:
        runtime.close_state_file()
