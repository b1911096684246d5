"""A DR event over a whole fleet, and its data zip, on a real `lgmock serve`, over HTTP.

The fleet (2,400 devices, 300 air conditioners) is bigger than what the sandbox does
before a DR answer (dr.windows.OPEN_INLINE_MEMBERS, dr.backend.ZIP_INLINE_DEVICES: 1,000 each),
so the window opens in parts after the event's answer and the zip is made after its
own: the file answers "not ready" (4306) until it is made, then holds every device.
With a state file both are done before the answer and survive a `kill -9`.
"""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver import generator
from mockserver.backends.dr.backend import ZIP_INLINE_DEVICES
from mockserver.backends.dr.windows import OPEN_INLINE_MEMBERS
from tests.support import RunningServer, bc_headers, fleet_dr_event, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEVICES = 2_400
DR = "/bc/v1/dr"
NOW = "2026-03-02T09:00:00+00:00"
NOW_MS = int(datetime.fromisoformat(NOW).timestamp() * 1000)


@pytest.fixture(scope="module")
def fleet() -> dict[str, Any]:
    document = generator.generate(DEVICES, seed=11)
    # A frozen clock: the zip's ZIP_READY_MS passes when the test says so.
    document["clock"] = {"now": NOW, "frozen": True}
    return document


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory, fleet: dict[str, Any]) -> Path:
    path = tmp_path_factory.mktemp("dr-fleet") / "fleet.json"
    path.write_text(json.dumps(fleet), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, scenario_file: Path
) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("dr-fleet-server"), "--scenario", str(scenario_file), wait=120
    )
    yield running
    stop_server(running)
    assert "Traceback" not in running.log(), running.log()


def headers(http: httpx.Client, fleet: dict[str, Any]) -> dict[str, str]:
    partner = fleet["partners"][0]
    return bc_headers(http, key=partner["apiKey"], secret=partner["apiSecret"], country="KR")


def fleet_event(fleet: dict[str, Any]) -> dict[str, Any]:
    return fleet_dr_event(fleet, NOW_MS)


def air_conditioners(fleet: dict[str, Any]) -> list[str]:
    return [d["deviceId"] for d in fleet["devices"] if d["deviceType"] == "DEVICE_AIR_CONDITIONER"]


def eventually(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


def target_temperature(http: httpx.Client, h: dict[str, str], device_id: str) -> float:
    answer = http.get(f"/bc/v1/devices/{device_id}", headers=h)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]["temperature"]["targetTemperature"]


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 2000, answer.text
    return answer.json()["data"]


def downloaded_zip(http: httpx.Client, h: dict[str, str]) -> zipfile.ZipFile:
    """Ask for the event's zip, see it answer "not ready", wait until it is, download it."""
    name = ok(http.post(f"{DR}/data-zip/files", headers=h, json={"eventId": "fleet-peak"}))[
        "fileName"
    ]
    early = http.get(f"{DR}/data-zip/files/{name}", headers=h)
    assert early.status_code == 404 and early.json()["code"] == 4306, early.text
    assert "not ready" in early.json()["message"]
    assert http.post("/_sandbox/clock", json={"advance": 2}).status_code == 200
    urls: list[str] = []

    def ready() -> bool:
        answer = http.get(f"{DR}/data-zip/files/{name}", headers=h)
        if answer.status_code == 200:
            urls.append(answer.json()["data"]["presignedUrl"])
            return True
        assert answer.status_code == 404 and answer.json()["code"] == 4306, answer.text
        return False

    eventually(ready, f"{name} downloadable")
    download = httpx.get(urls[0], timeout=60)
    assert download.status_code == 200
    return zipfile.ZipFile(io.BytesIO(download.content))


def assert_holds_the_fleet(archive: zipfile.ZipFile, fleet: dict[str, Any]) -> None:
    summary = json.loads(archive.read("event.json"))
    every = {d["deviceId"] for d in fleet["devices"]}
    assert {d["deviceId"] for d in summary["devices"]} == every
    assert {n for n in archive.namelist() if n.startswith("devices/")} == {
        f"devices/{device_id}.csv" for device_id in every
    }
    # The last air conditioner reached: its start row shows the signal's set point.
    last_ac = air_conditioners(fleet)[-1]
    lines = archive.read(f"devices/{last_ac}.csv").decode().splitlines()
    columns = lines[0].split(",")
    start = dict(zip(columns, lines[1].split(","), strict=True))
    assert start["reason"] == "start" and start["participating"] == "true"
    assert 26 <= float(start["temperature.targetTemperature"]) <= 28


def test_the_fleet_is_bigger_than_what_a_dr_answer_waits_for() -> None:
    assert DEVICES > OPEN_INLINE_MEMBERS and DEVICES > ZIP_INLINE_DEVICES


def test_a_fleet_event_answers_then_reaches_every_device_and_its_zip_holds_them_all(
    server: RunningServer, fleet: dict[str, Any]
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        assert http.post("/_sandbox/reset").status_code == 200
        h = headers(http, fleet)
        assert ok(http.post(f"{DR}/events", headers=h, json=fleet_event(fleet))) == {
            "eventId": "fleet-peak"
        }
        last_ac = air_conditioners(fleet)[-1]
        eventually(lambda: 26 <= target_temperature(http, h, last_ac) <= 28, "the signal")
        assert all(26 <= target_temperature(http, h, ac) <= 28 for ac in air_conditioners(fleet))
        assert_holds_the_fleet(downloaded_zip(http, h), fleet)


def with_state_file(tmp_path: Path, scenario_file: Path, state_file: Path) -> RunningServer:
    return start_server(
        tmp_path, "--scenario", str(scenario_file), "--state-file", str(state_file), wait=120
    )


def test_with_a_state_file_a_fleet_event_and_its_zip_survive_kill9(
    tmp_path: Path, scenario_file: Path, fleet: dict[str, Any]
) -> None:
    state_file = tmp_path / "state.db"
    server = with_state_file(tmp_path, scenario_file, state_file)
    try:
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            h = headers(http, fleet)
            ok(http.post(f"{DR}/events", headers=h, json=fleet_event(fleet)))
        # SIGKILL right after the answer: the window was opened and committed before it.
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=15)
        server = start_server(tmp_path, "--state-file", str(state_file), wait=120)
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            h = headers(http, fleet)
            assert all(
                26 <= target_temperature(http, h, ac) <= 28 for ac in air_conditioners(fleet)
            )
            assert_holds_the_fleet(downloaded_zip(http, h), fleet)
    finally:
        stop_server(server)


# What a row written to each table is named by, in the triggers below.
WRITTEN = {
    "dr_pieces": "kind || ' ' || {row}.item",
    "families": "{row}.name",
    "devices": "'device'",
}


def count_writes(state_file: Path) -> None:
    """Triggers in the state file recording every row its server inserts, updates or
    deletes (the file is closed: the server holds it while it runs)."""
    with closing(sqlite3.connect(state_file)) as db, db:
        db.execute("CREATE TABLE written (name TEXT NOT NULL, row TEXT NOT NULL)")
        for table, name in WRITTEN.items():
            for action in ("INSERT", "UPDATE", "DELETE"):
                row = name.replace("kind", "{row}.kind").format(
                    row="OLD" if action == "DELETE" else "NEW"
                )
                db.execute(
                    f"CREATE TRIGGER written_{table}_{action} AFTER {action} ON {table} "
                    f"BEGIN INSERT INTO written VALUES ('{table}', {row}); END"
                )


def writes(state_file: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(state_file)) as db:
        return db.execute("SELECT name, row FROM written ORDER BY rowid").fetchall()


def killed(server: RunningServer) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)


def test_with_a_state_file_a_member_control_writes_its_pieces_and_survives_kill9(
    tmp_path: Path, scenario_file: Path, fleet: dict[str, Any]
) -> None:
    state_file = tmp_path / "state.db"
    server = with_state_file(tmp_path, scenario_file, state_file)
    try:
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            ok(http.post(f"{DR}/events", headers=headers(http, fleet), json=fleet_event(fleet)))
        killed(server)
        with closing(sqlite3.connect(state_file)) as db:
            (pieces,) = db.execute("SELECT count(*) FROM dr_pieces").fetchone()
        assert pieces > DEVICES  # a series per member, a control per air conditioner
        count_writes(state_file)

        server = start_server(tmp_path, "--state-file", str(state_file), wait=120)
        member = air_conditioners(fleet)[7]
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            h = headers(http, fleet)
            control = {"temperature": {"targetTemperature": 18}}
            answer = http.post(f"/bc/v1/devices/{member}", headers=h, json=control)
            assert answer.status_code == 200, answer.text
            # The event takes the member back within its bounds (the next tick).
            eventually(lambda: 26 <= target_temperature(http, h, member) <= 28, "back in bounds")
            before = http.get("/_sandbox/state").json()
        killed(server)
        # The control and the event's answer to it wrote the member's series and control
        # and its device row, a few times; not the family (more than DEVICES pieces).
        written = writes(state_file)
        assert set(written) == {
            ("dr_pieces", f"series {member}"),
            ("dr_pieces", f"control {member}"),
            ("devices", "device"),
        }
        assert len(written) <= 8, written

        server = start_server(tmp_path, "--state-file", str(state_file), wait=120)
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            assert http.get("/_sandbox/state").json() == before
            rows = before["dr"]["events"][0]["progress"]["series"][member]["rows"]
            assert rows[-1]["reason"] == "change"  # the control's rows were kept
    finally:
        stop_server(server)
