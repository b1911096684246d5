"""--state-file when the disk refuses a commit: every answer is either a 2xx whose change
is durable, or an error whose change is not visible (docs/durability.md, "When a commit
fails").

A real ``lgmock serve`` whose writes are made to fail from outside: its file size limit
(RLIMIT_FSIZE, set on the running process with ``prlimit``) is lowered below the size of
its files, so every write that would extend the write-ahead log fails with EFBIG as a full
disk fails with ENOSPC (Python ignores SIGXFSZ, so the write returns an error instead of
killing the process). Raising the limit again is space coming back.
"""

from __future__ import annotations

import resource
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_persistence import kill9_and_restart
from tests.support import KR_AC, KR_FRIDGE, RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e

NO_SPACE = 4096  # bytes: below the size of a state database, so any commit fails


def refuse_writes(server: RunningServer) -> None:
    # The soft limit only: lowering the hard one could not be undone without
    # CAP_SYS_RESOURCE (not every root in a container has it).
    _, hard = resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (NO_SPACE, hard))


def allow_writes(server: RunningServer) -> None:
    _, hard = resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (hard, hard))


def freeze_clock(http: httpx.Client) -> None:
    # A running clock moves between two reads of the state: frozen, they compare equal.
    moment = {"set": "2031-05-01T12:00:00+00:00", "freeze": True}
    assert http.post("/_sandbox/clock", json=moment).status_code == 200


def take_offline(http: httpx.Client, device_id: str) -> httpx.Response:
    return http.patch(f"/_sandbox/devices/{device_id}", json={"online": False})


def scenario_part(state: dict) -> dict:
    """A state without what every build of a sandbox makes anew (its clock's instant, the
    DR file secret): what a reset must bring back exactly."""
    dr = {key: value for key, value in state["dr"].items() if key != "fileSecret"}
    return {**{key: value for key, value in state.items() if key != "clock"}, "dr": dr}


def assert_state_file_error(answer: httpx.Response) -> None:
    assert answer.status_code == 500, answer.text
    assert "state file could not be written" in answer.json()["error"]["message"]


@pytest.mark.slow
def test_a_refused_commit_leaves_no_trace_and_later_changes_survive_kill9(
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            initial = http.get("/_sandbox/state").json()
            freeze_clock(http)
            fresh = http.get("/_sandbox/state").json()
            assert take_offline(http, KR_AC).status_code == 200
            acknowledged = http.get("/_sandbox/state").json()

            refuse_writes(server)
            # A device change, a fault rule, a reset and a scenario load: each is refused
            # with a 500 and none of them shows afterwards.
            assert_state_file_error(take_offline(http, KR_FRIDGE))
            assert http.get("/_sandbox/state").json() == acknowledged
            rule = {"match": {"operationId": "getDevices"}, "effect": {"error": "4304"}}
            assert_state_file_error(http.post("/_sandbox/faults", json=rule))
            assert http.get("/_sandbox/faults").json()["items"] == []
            assert_state_file_error(http.post("/_sandbox/reset"))
            assert http.get("/_sandbox/state").json() == acknowledged
            other = {**fresh, "seed": 7, "devices": fresh["devices"][:1]}
            assert_state_file_error(http.post("/_sandbox/scenario", json=other))
            assert http.get("/_sandbox/state").json() == acknowledged
            # The ticker's commits fail too while the limit holds; the server goes on.
            assert http.get("/_sandbox/health").status_code == 200

            allow_writes(server)
            assert take_offline(http, KR_FRIDGE).status_code == 200
            expected = http.get("/_sandbox/state").json()
            assert expected != acknowledged

        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            assert http.get("/_sandbox/state").json() == expected
            # The refused reset and load never reached the file: a reset goes back to the
            # scenario the server started with, whole.
            assert http.post("/_sandbox/reset").status_code == 200
            assert scenario_part(http.get("/_sandbox/state").json()) == scenario_part(initial)
    finally:
        stop_server(server)


@pytest.mark.slow
def test_a_refused_reset_and_load_leave_the_file_at_one_whole_scenario(tmp_path: Path) -> None:
    state_file = tmp_path / "state.db"
    server = start_server(tmp_path, "--state-file", str(state_file))
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            freeze_clock(http)
            fresh = http.get("/_sandbox/state").json()
            small = {**fresh, "seed": 7, "devices": fresh["devices"][:2]}
            assert http.post("/_sandbox/scenario", json=small).status_code == 200
            assert take_offline(http, small["devices"][0]["deviceId"]).status_code == 200
            changed = http.get("/_sandbox/state").json()

            refuse_writes(server)
            assert_state_file_error(http.post("/_sandbox/reset"))
            assert_state_file_error(http.post("/_sandbox/scenario", json=fresh))
            allow_writes(server)
            # A change after space came back commits over the scenario the file holds.
            assert take_offline(http, small["devices"][1]["deviceId"]).status_code == 200
            expected = http.get("/_sandbox/state").json()
            assert [d["deviceId"] for d in expected["devices"]] == [
                d["deviceId"] for d in changed["devices"]
            ]

        server = kill9_and_restart(server, tmp_path, state_file)
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            assert http.get("/_sandbox/state").json() == expected
            assert http.post("/_sandbox/reset").status_code == 200
            reset = http.get("/_sandbox/state").json()
            assert [d["deviceId"] for d in reset["devices"]] == [
                d["deviceId"] for d in small["devices"]
            ]
            assert reset["seed"] == 7
    finally:
        stop_server(server)
