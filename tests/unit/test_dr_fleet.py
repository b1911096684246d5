"""DR over a fleet: a window opened in parts, rows made when read, a zip made after its answer.

Each mechanism is checked against the plain one: the same fleet and event, done inline,
must give the same state and the same bytes.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import zipfile
from typing import Any

import pytest

from mockserver import generator, scenario, simulation
from mockserver.after_answer import AfterAnswer
from mockserver.backends.dr import checks, signals
from mockserver.backends.dr.backend import ZIP_INLINE_DEVICES, ZIP_READY_MS
from mockserver.backends.dr.windows import OPEN_INLINE_MEMBERS
from mockserver.backends.sandbox import Sandbox
from mockserver.errors import ApiError, Err
from tests.support import fleet_dr_event

DEVICES = 2_400  # more than OPEN_INLINE_MEMBERS and ZIP_INLINE_DEVICES


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    document = generator.generate(DEVICES, seed=5)
    document["clock"] = {"now": "2026-03-02T09:00:00+00:00", "frozen": True}
    return document


def sandbox_of(document: dict[str, Any]) -> Sandbox:
    sandbox = scenario.load(json.loads(json.dumps(document)), "<fleet>")
    simulation.attach(sandbox)
    return sandbox


def partner(document: dict[str, Any]) -> str:
    return document["partners"][0]["partnerId"]


def event_body(sandbox: Sandbox, document: dict[str, Any]) -> dict[str, Any]:
    return fleet_dr_event(document, int(sandbox.clock.timestamp() * 1000))


def opened_in_parts(document: dict[str, Any]) -> Sandbox:
    sandbox = sandbox_of(document)
    sandbox.dr.put_event(partner(document), event_body(sandbox, document), later=True)
    assert sandbox.dr.windows.opening is not None
    parts = 0
    while sandbox.dr.windows.open_part():
        parts += 1
    assert sandbox.dr.windows.opening is None and parts >= 2
    return sandbox


def test_the_fleet_is_bigger_than_what_is_done_inline(document: dict[str, Any]) -> None:
    assert DEVICES > OPEN_INLINE_MEMBERS and DEVICES > ZIP_INLINE_DEVICES


def test_a_window_opened_in_parts_ends_as_one_opened_inline(document: dict[str, Any]) -> None:
    inline = sandbox_of(document)
    inline.dr.put_event(partner(document), event_body(inline, document))
    assert inline.dr.windows.opening is None
    parts = opened_in_parts(document)
    controls = inline.dr.events["fleet-peak"].controls
    assert len(controls) == DEVICES // 8  # every air conditioner, and nothing else
    assert parts.dr.export() == inline.dr.export()
    assert scenario.export(parts) == scenario.export(inline)


def test_while_a_window_opens_the_reached_members_are_controlled_and_others_wait(
    document: dict[str, Any],
) -> None:
    sandbox = sandbox_of(document)
    sandbox.dr.put_event(partner(document), event_body(sandbox, document), later=True)
    event = sandbox.dr.events["fleet-peak"]
    assert event.phase == "active" and not event.controls and not event.series
    sandbox.dr.windows.open_part()
    reached = set(event.series)
    assert 0 < len(reached) < DEVICES
    assert set(event.controls) <= reached
    # A listing shows what the event will do to every member, reached or not.
    last_ac = [d for d in document["devices"] if d["deviceType"] == "DEVICE_AIR_CONDITIONER"][-1]
    assert last_ac["deviceId"] not in reached
    views = sandbox.dr.user_devices(partner(document), last_ac["owner"])
    assert {v.to_api()["opt"] for v in views} == {"IN"}


def test_a_dr_call_during_an_opening_finishes_it_first(document: dict[str, Any]) -> None:
    sandbox = sandbox_of(document)
    body = event_body(sandbox, document)
    sandbox.dr.put_event(partner(document), body, later=True)
    sandbox.dr.windows.open_part()
    body["eventName"] = "renamed"
    sandbox.dr.put_event(partner(document), body)
    assert sandbox.dr.windows.opening is None
    assert len(sandbox.dr.events["fleet-peak"].controls) == DEVICES // 8
    assert len(sandbox.dr.events["fleet-peak"].series) == DEVICES


def test_a_row_of_an_untouched_device_reads_as_it_was_when_taken(document: dict[str, Any]) -> None:
    sandbox = opened_in_parts(document)
    washer = next(d for d in document["devices"] if d["deviceType"] == "DEVICE_WASHER")
    device_id = washer["deviceId"]
    as_it_was = copy.deepcopy(sandbox.devices.get(device_id))
    series = sandbox.dr.events["fleet-peak"].series[device_id]
    assert not isinstance(series.entries[0], dict)  # not made yet
    # The device changes after the row was taken, then the row is read.
    sandbox.devices.set_online(device_id, False)
    taken_at = series.entries[0].epoch_ms
    expected = signals.sample(as_it_was, taken_at, "start", "IN", False)
    assert expected["online"] is True
    assert series.rows[0] == expected
    assert sandbox.devices.get(device_id).online is False


def zip_request() -> checks.ZipRequest:
    return checks.parse_zip_request({"eventId": "fleet-peak"}, "body")


def test_a_zip_made_after_its_answer_holds_the_same_bytes(document: dict[str, Any]) -> None:
    inline = opened_in_parts(document)
    made = inline.dr.create_file(partner(document), zip_request())
    later = opened_in_parts(document)
    data = later.dr.create_file(partner(document), zip_request(), later=True)
    assert data.content is None
    later.clock.advance(ZIP_READY_MS / 1000)
    with pytest.raises(ApiError) as refused:
        later.dr.file(partner(document), data.file_name)
    assert refused.value.reason == Err.DR_ZIP_FILE_NOT_FOUND
    assert f"its {DEVICES} devices' data is still being zipped" in refused.value.message
    # What a handler hands to runtime.after_answer, run to its end (as with a state file).
    AfterAnswer(inline=lambda: True).start("zip", later.dr.zip_parts(data))
    assert later.dr.file(partner(document), data.file_name) is data
    assert data.content == made.content
    archive = zipfile.ZipFile(io.BytesIO(data.content))
    assert sum(1 for name in archive.namelist() if name.startswith("devices/")) == DEVICES


def test_an_export_finishes_a_zip_still_being_made(document: dict[str, Any]) -> None:
    sandbox = opened_in_parts(document)
    data = sandbox.dr.create_file(partner(document), zip_request(), later=True)
    assert data.content is None
    exported = sandbox.dr.export()["files"][0]
    assert data.content is not None
    assert base64.b64decode(exported["content"]) == data.content
    content = data.content
    sandbox.dr.finish_file(data, b"the job's own bytes, come late")
    assert data.content is content  # what was exported stays


def test_a_tick_after_one_member_changed_reconciles_that_device_alone(
    document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = opened_in_parts(document)
    windows = sandbox.dr.windows
    sandbox.tick()
    ac = next(d["deviceId"] for d in document["devices"] if d["deviceType"].endswith("CONDITIONER"))
    sandbox.devices.change_from_device(ac, {"temperature": {"targetTemperature": 18}})
    looked_at: list[str] = []
    enforce = windows._enforce

    def counted(event: Any, device: Any, control: Any) -> bool:
        looked_at.append(device.device_id)
        return enforce(event, device, control)

    monkeypatch.setattr(windows, "_enforce", counted)
    sandbox.tick()
    assert looked_at == [ac]  # not the other 299 air conditioners under control
    assert 26 <= sandbox.devices.get(ac).status["temperature"]["targetTemperature"] <= 28
    rows = sandbox.dr.events["fleet-peak"].series[ac].rows
    assert rows[-1]["values"]["temperature.targetTemperature"] >= 26
    assert any(r["values"]["temperature.targetTemperature"] == 18 for r in rows)
