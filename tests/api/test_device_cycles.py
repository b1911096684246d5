"""Time-driven devices over real HTTP: cycles end on the sandbox clock, pushes reach receivers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract_tests.receiver import CallbackReceiver, push_type
from tests.api.test_thinq_async import SERVICE, accepted, is_event, of_request, thinq_headers
from tests.support import KR_AC, KR_TOKEN, US_TOKEN, US_USER, US_WASHER, user_headers

US_DRYER = "b0afcb68cdec18fdc8ddbb732e1bdfd3c111d5364b760114fa7df8b399d59742"
START = {"operation": {"washerOperationMode": "START"}}


@pytest.fixture
def receiver(http: httpx.Client) -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as running:
        answer = http.patch(f"/_sandbox/services/{SERVICE}", json={"callbackUrl": running.url})
        assert answer.status_code == 200, answer.text
        yield running


def us_device_count(http: httpx.Client) -> int:
    devices = http.get("/_sandbox/state").json()["devices"]
    return sum(1 for d in devices if d["owner"] == US_USER)


def clock(http: httpx.Client, **body: Any) -> None:
    answer = http.post("/_sandbox/clock", json=body)
    assert answer.status_code == 200, answer.text


def washer_main(http: httpx.Client) -> dict[str, Any]:
    answer = http.get(f"/bc/v1/devices/{US_WASHER}", headers=user_headers(http, US_TOKEN, "US"))
    assert answer.status_code == 200, answer.text
    [main] = answer.json()["response"]  # location-wrapped: one entry, MAIN
    return main


def remaining(body: dict[str, Any]) -> tuple[int, int]:
    return body["timer"]["remainHour"], body["timer"]["remainMinute"]


def washer_state(body: dict[str, Any]) -> str | None:
    """The washer's run state in an event report, if the report changes it."""
    response = body["response"]
    if response["deviceId"] != US_WASHER:
        return None
    return response["report"][0].get("runState", {}).get("currentState")


def test_a_washer_cycle_ends_and_its_push_reaches_the_subscribers(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    clock(http, freeze=True)
    headers = thinq_headers(US_TOKEN, "US")
    subscribed = accepted(http.post("/v2/devices/push-async", headers=headers), headers)
    confirmations = receiver.wait_for(us_device_count(http), of_request(subscribed))
    assert {push_type(b) for b in confirmations} == {"DEVICE_PUSH_SUBSCRIBED"}
    headers = thinq_headers(US_TOKEN, "US")
    events = accepted(
        http.post(
            "/v2/devices/event-async",
            headers=headers,
            json={"expire": {"unit": "HOUR", "timer": 24}},
        ),
        headers,
    )
    receiver.wait_for(us_device_count(http), of_request(events))

    with CallbackReceiver() as partner:
        # The same push through Business Connect's own subscription, to the partner.
        http.patch("/_sandbox/partners/acme-energy", json={"callbackUrl": partner.url})
        bc = user_headers(http, US_TOKEN, "US")
        assert http.post(f"/bc/v1/push/{US_WASHER}", headers=bc).status_code == 200

        bc = user_headers(http, US_TOKEN, "US")
        answer = http.post(f"/bc/v1/devices/{US_WASHER}", headers=bc, json=START)
        assert answer.status_code == 200, answer.text
        main = washer_main(http)
        assert main["runState"]["currentState"] == "RUNNING"
        assert remaining(main) == (1, 0)
        assert (main["timer"]["totalHour"], main["timer"]["totalMinute"]) == (1, 0)

        clock(http, advance=1800)
        main = washer_main(http)
        assert main["runState"]["currentState"] == "RUNNING" and remaining(main) == (0, 30)

        clock(http, advance=7200)
        main = washer_main(http)
        assert main["runState"]["currentState"] == "END" and remaining(main) == (0, 0)

        [push] = receiver.wait_for(1, lambda b: push_type(b) == "DEVICE_PUSH")
        assert push["response"]["pushCode"] == "WASHING_IS_COMPLETE"
        assert push["response"]["deviceId"] == US_WASHER
        assert push["response"]["userNumber"] == US_USER

        partner_pushes = partner.wait_for(1, lambda b: push_type(b) == "DEVICE_PUSH")
        assert [m["pushCode"] for m in partner_pushes] == ["WASHING_IS_COMPLETE"]
        assert partner_pushes[0]["deviceId"] == US_WASHER

    # The event subscriber saw the cycle: START, RUNNING with its timers, ..., END.
    receiver.wait_for(1, lambda b: is_event(b) and washer_state(b) == "END")
    states = [washer_state(b) for b in receiver.bodies(is_event)]
    states = [state for state in states if state is not None]
    assert states == ["RUNNING", "END"]
    # Nothing more once it ended.
    clock(http, advance=7200)
    assert washer_main(http)["runState"]["currentState"] == "END"
    journal = http.get(
        "/_sandbox/callbacks", params={"deviceId": US_WASHER, "kind": "DEVICE_PUSH"}
    ).json()
    assert journal["total"] == 2  # one to the ThinQ service, one to the partner


def test_a_dryer_started_through_thinq_pauses_and_resumes(
    http: httpx.Client, receiver: CallbackReceiver
) -> None:
    clock(http, freeze=True)

    def control(action: str) -> None:
        headers = thinq_headers(US_TOKEN, "US")
        body = {
            "deviceType": "DEVICE_DRYER",
            "command": {"operation": {"dryerOperationMode": action}},
        }
        request_id = accepted(
            http.post("/v2/devices/control-async", headers=headers, json=body), headers
        )
        [result] = receiver.wait_for(1, of_request(request_id))
        assert result["responseCode"] == "0000", result

    def dryer() -> dict[str, Any]:
        answer = http.get(f"/bc/v1/devices/{US_DRYER}", headers=user_headers(http, US_TOKEN, "US"))
        return answer.json()["response"]

    control("START")
    assert dryer()["runState"]["currentState"] == "DRYING"
    clock(http, advance=600)
    control("STOP")
    status = dryer()
    assert status["runState"]["currentState"] == "PAUSE" and remaining(status) == (1, 20)
    clock(http, advance=4 * 3600)
    assert dryer()["runState"]["currentState"] == "PAUSE"
    control("START")
    clock(http, advance=80 * 60)
    assert dryer()["runState"]["currentState"] == "END"


def test_an_air_conditioner_drifts_towards_its_target(http: httpx.Client) -> None:
    clock(http, freeze=True)
    headers = user_headers(http, KR_TOKEN, "KR")
    change = http.patch(
        f"/_sandbox/devices/{KR_AC}/state", json={"temperature": {"currentTemperature": 27}}
    )
    assert change.status_code == 200, change.text
    command = {"temperature": {"targetTemperature": 21}}
    assert http.post(f"/bc/v1/devices/{KR_AC}", headers=headers, json=command).status_code == 200

    def current() -> int:
        answer = http.get(f"/bc/v1/devices/{KR_AC}", headers=user_headers(http, KR_TOKEN, "KR"))
        return answer.json()["response"]["temperature"]["currentTemperature"]

    assert current() == 27
    clock(http, advance=10 * 60)
    assert current() == 25
    clock(http, advance=3600)
    assert current() == 21
    journal = http.get("/_sandbox/callbacks", params={"deviceId": KR_AC}).json()
    assert journal["total"] == 0  # nobody subscribed: the drift is silent
