"""GroupCommit on its own: responses wait for a commit that began after their handler,
share it within a turn of the loop, and become 500s when it fails."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from mockserver.errors import Api
from mockserver.lifespan import GroupCommit


class FakeRuntime:
    """What GroupCommit asks of a Runtime: is anything unsaved, and commit it (rolling
    the state back when that fails: here, a count of the roll-backs)."""

    def __init__(self, fail: bool = False) -> None:
        self.unsaved = True
        self.commits = 0
        self.roll_backs = 0
        self.fail = fail

    def has_unsaved(self) -> bool:
        return self.unsaved

    def commit_or_roll_back(self) -> None:
        self.commits += 1
        if self.fail:
            self.roll_backs += 1
            raise sqlite3.OperationalError("disk I/O error")
        self.unsaved = False


START = {"type": "http.response.start", "status": 200, "headers": []}
BODY = {"type": "http.response.body", "body": b"{}"}


async def answer(group: GroupCommit, runtime: FakeRuntime, sent: list) -> None:
    """One call's answer as the gateway sends it, recording when each message left."""

    async def wire(message: dict) -> None:
        sent.append((message, runtime.commits))

    send = group.wrap(Api.BUSINESS_CONNECT, wire)
    await send(START)
    await send(BODY)


def test_calls_of_one_turn_share_one_commit_made_before_any_answer() -> None:
    runtime = FakeRuntime()
    group = GroupCommit(runtime)  # type: ignore[arg-type]
    group.in_flight = 3
    sent: list = []

    asyncio.run(answers(group, runtime, sent, 3))
    assert runtime.commits == 1
    starts = [commits for message, commits in sent if message["type"] == "http.response.start"]
    assert starts == [1, 1, 1]  # every answer left after the commit


def test_a_call_alone_commits_at_once_and_one_that_changed_nothing_waits_for_none() -> None:
    runtime = FakeRuntime()
    group = GroupCommit(runtime)  # type: ignore[arg-type]
    group.in_flight = 1
    sent: list = []
    asyncio.run(answer(group, runtime, sent))
    assert runtime.commits == 1 and sent[0][1] == 1
    asyncio.run(answer(group, runtime, sent))  # nothing unsaved now
    assert runtime.commits == 1 and len(sent) == 4


async def answers(group: GroupCommit, runtime: FakeRuntime, sent: list, count: int) -> None:
    await asyncio.gather(*(answer(group, runtime, sent) for _ in range(count)))


@pytest.mark.parametrize("in_flight", [1, 2])
def test_a_failed_commit_rolls_back_once_and_answers_every_waiting_call_500(in_flight: int) -> None:
    runtime = FakeRuntime(fail=True)
    group = GroupCommit(runtime)  # type: ignore[arg-type]
    group.in_flight = in_flight
    sent: list = []
    asyncio.run(answers(group, runtime, sent, in_flight))
    starts = [m for m, _ in sent if m["type"] == "http.response.start"]
    bodies = [json.loads(m["body"]) for m, _ in sent if m["type"] == "http.response.body"]
    assert [m["status"] for m in starts] == [500] * in_flight  # never the app's 200
    assert all("state file could not be written" in json.dumps(b) for b in bodies)
    assert runtime.commits == 1
    assert runtime.roll_backs == 1  # once for all the calls that shared the commit
