"""The pytest plugin: `lg_sandbox` and `callback_receiver`, and what they cost when unused."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from contract_tests import pytest_plugin
from contract_tests.sandbox import Sandbox, SandboxReceiver
from lgspecs.data import default_scenario
from tests.support import KR_FRIDGE

pytest_plugins = ["pytester"]

FRIDGE_ONLY = {
    "name": "fridge-only",
    "partners": [
        {"partnerId": "p1", "apiKey": "k1", "apiSecret": "s1", "roles": ["postToken", "getDevices"]}
    ],
    "services": [{"serviceId": "svc", "serviceKey": "svc-key", "callbackUrl": None}],
    "users": [{"userNumber": "KR2024000000009", "accessToken": "tok-9", "countryCode": "KR"}],
    "devices": [
        {
            "deviceId": "fridge-1",
            "deviceType": "DEVICE_REFRIGERATOR",
            "owner": "KR2024000000009",
            "registeredTo": ["p1"],
            "profile": "refrigerator/basic.json",
        }
    ],
}


@pytest.fixture
def sandbox(lg_sandbox: Sandbox) -> Sandbox:
    lg_sandbox.reset()
    return lg_sandbox


@pytest.fixture
def restores_default(lg_sandbox: Sandbox) -> Iterator[None]:
    """For tests that load another scenario: later tests find the default one again."""
    yield
    lg_sandbox.load_scenario(default_scenario())


def test_urls_and_credentials_of_the_loaded_scenario(sandbox: Sandbox) -> None:
    assert sandbox.bc_url == f"{sandbox.base_url}/bc/v1"
    assert sandbox.thinq_url == f"{sandbox.base_url}/v2"
    assert sandbox.process is not None  # the plugin started it
    who = sandbox.credentials
    assert (who.api_key, who.service_id, who.country) == (
        "acme-api-key-0001",
        "acme-thinq-service",
        "KR",
    )
    answer = httpx.get(f"{sandbox.bc_url}/devices", headers=sandbox.bc_headers())
    assert answer.status_code == 200
    assert sandbox.bc_headers()["X-Message-Id"] != sandbox.bc_headers()["X-Message-Id"]


def test_load_scenario_takes_a_dict_a_path_or_yaml(
    sandbox: Sandbox, restores_default: None, tmp_path: Path
) -> None:
    sandbox.load_scenario(FRIDGE_ONLY)
    assert [d["deviceId"] for d in sandbox.devices()] == ["fridge-1"]
    assert sandbox.credentials.api_key == "k1"
    path = tmp_path / "fridge.yaml"
    path.write_text(yaml.safe_dump({**FRIDGE_ONLY, "name": "from-a-file"}))
    assert sandbox.load_scenario(path)["scenario"] == "from-a-file"
    assert sandbox.load_scenario(yaml.safe_dump(FRIDGE_ONLY))["scenario"] == "fridge-only"


def test_clock_online_and_tokens(sandbox: Sandbox) -> None:
    headers = sandbox.bc_headers()
    sandbox.advance_clock(24 * 3600 + 1)
    expired = httpx.get(f"{sandbox.bc_url}/devices", headers=headers)
    assert (expired.status_code, expired.headers["X-Response-Code"]) == (401, "4201")
    device = sandbox.devices(owner=sandbox.credentials.user_number)[0]["deviceId"]
    sandbox.set_online(device, False)
    assert next(d for d in sandbox.state()["devices"] if d["deviceId"] == device)["online"] is False


def test_faults_through_the_control_api(sandbox: Sandbox) -> None:
    try:
        rule = sandbox.add_fault(match={"operationId": "getDevices"}, effect={"error": "4201"})
    except NotImplementedError as exc:
        assert "fault API" in str(exc)
        return
    try:
        answer = httpx.get(f"{sandbox.bc_url}/devices", headers=sandbox.bc_headers())
        assert answer.status_code == 401 and rule["id"]
    finally:
        sandbox.clear_faults()


def test_callback_receiver_gets_callbacks_and_survives_a_reset(
    sandbox: Sandbox, callback_receiver: SandboxReceiver
) -> None:
    service = sandbox.state()["services"][0]
    assert service["callbackUrl"] == callback_receiver.thinq_url
    sandbox.reset()  # the scenario's URLs come back, and the receiver registers again
    assert sandbox.state()["services"][0]["callbackUrl"] == callback_receiver.thinq_url
    answer = httpx.post(
        f"{sandbox.thinq_url}/devices/status-async", headers=sandbox.thinq_headers()
    )
    request_id = answer.json()["requestId"]
    owned = sandbox.devices(owner=sandbox.credentials.user_number)
    callbacks = callback_receiver.wait_for_request(request_id, count=len(owned))
    assert len(callbacks) == len(owned)
    journal = sandbox.callbacks(requestId=request_id)
    assert {entry["status"] for entry in journal} <= {"delivered", "pending"}
    assert callback_receiver.thinq_bodies() and not callback_receiver.bc_bodies()


def test_without_a_receiver_a_client_test_reads_its_callbacks_from_the_inbox(
    sandbox: Sandbox,
) -> None:
    answer = httpx.post(
        f"{sandbox.thinq_url}/devices/profile-async", headers=sandbox.thinq_headers()
    )
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["requestId"]
    owned = {d["deviceId"] for d in sandbox.devices(owner=sandbox.credentials.user_number)}
    deadline = time.monotonic() + 10
    while len(items := sandbox.inbox(requestId=request_id)) < len(owned):
        assert time.monotonic() < deadline, items
        time.sleep(0.05)
    assert {i["deviceId"] for i in items} == owned
    assert {i["serviceId"] for i in items} == {sandbox.credentials.service_id}
    assert {i["body"]["response"]["pushType"] for i in items} == {"DEVICE_PROFILE"}


def test_callback_receiver_gives_the_urls_back(lg_sandbox: Sandbox) -> None:
    lg_sandbox.reset()
    receiver = SandboxReceiver().start()
    try:
        receiver.attach(lg_sandbox)
        receiver.detach()
    finally:
        receiver.stop()
    state = lg_sandbox.state()
    # The default scenario names no receiver: each gets the sandbox's inbox back.
    assert [s["callbackUrl"] for s in state["services"]] == [None]
    assert [p["callbackUrl"] for p in state["partners"]] == [None, None]


def test_thinq_connect_mqtt_is_lgs_client_connected_to_the_sandbox(
    sandbox: Sandbox, thinq_connect_mqtt: Any
) -> None:
    client = thinq_connect_mqtt
    assert client.sdk_client.is_connected
    assert client.sdk_client.topic_subscription == f"app/clients/{client.client_id}/push"
    client.call(client.api.async_post_push_subscribe, KR_FRIDGE)
    answer = httpx.post(
        f"{sandbox.control_url}/devices/{KR_FRIDGE}/push", json={"code": "DOOR_IS_OPEN"}
    )
    assert answer.status_code == 200, answer.text
    message = client.wait_for(lambda m: m.get("pushType") == "DEVICE_PUSH")
    assert (message["deviceId"], message["pushCode"]) == (KR_FRIDGE, "DOOR_IS_OPEN")


def test_fixture_names_leave_the_projects_own_alone() -> None:
    names = {"lg_sandbox", "callback_receiver"}
    assert {name for name in dir(pytest_plugin) if name in names} == names
    assert names.isdisjoint({"server", "http"})  # tests/conftest.py's fixtures


def test_unused_fixtures_cost_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import sys

            def test_plain():
                assert "contract_tests.pytest_plugin" in sys.modules  # loaded...
                assert "contract_tests.sandbox" not in sys.modules  # ...and nothing else
                assert "contract_tests.receiver" not in sys.modules
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_an_already_running_sandbox_is_used(pytester: pytest.Pytester, sandbox: Sandbox) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            f"""
            def test_uses_it(lg_sandbox):
                assert lg_sandbox.base_url == {sandbox.base_url!r}
                assert lg_sandbox.process is None
                assert lg_sandbox.health()["status"] == "ok"
            """
        )
    )
    result = pytester.runpytest_subprocess(f"--lg-sandbox-url={sandbox.base_url}")
    result.assert_outcomes(passed=1)


@pytest.mark.slow
def test_a_scenario_file_and_one_sandbox_per_test(pytester: pytest.Pytester) -> None:
    scenario = pytester.path / "fridge.yaml"
    scenario.write_text(yaml.safe_dump(FRIDGE_ONLY))
    pytester.makepyfile(
        textwrap.dedent(
            """
            PORTS = []

            def test_one(lg_sandbox):
                assert [d["deviceId"] for d in lg_sandbox.devices()] == ["fridge-1"]
                PORTS.append(lg_sandbox.base_url)

            def test_two(lg_sandbox):
                assert lg_sandbox.credentials.api_key == "k1"
                assert lg_sandbox.base_url not in PORTS
            """
        )
    )
    result = pytester.runpytest_subprocess(
        f"--lg-scenario={scenario}", "--lg-sandbox-scope=function"
    )
    result.assert_outcomes(passed=2)


def test_thinq_connect_api_is_lgs_sdk_bound_to_the_sandbox(pytester: pytest.Pytester) -> None:
    """A client's own test file, as a user of the plugin writes it."""
    pytester.makepyfile(
        textwrap.dedent(
            """
            import asyncio
            import inspect

            import pytest
            from thinqconnect import ThinQApi, ThinQAPIException

            def test_devices_and_a_refusal(thinq_connect_api, lg_sandbox):
                assert isinstance(thinq_connect_api, ThinQApi)
                # Only the host-bound method is the sandbox's; the rest is LG's own.
                overridden = {
                    name for name, member in vars(type(thinq_connect_api)).items()
                    if inspect.isfunction(member)
                }
                assert overridden == {"_get_url_from_endpoint"}

                async def calls():
                    devices = await thinq_connect_api.async_get_device_list()
                    with pytest.raises(ThinQAPIException) as caught:
                        await thinq_connect_api.async_get_device_status("no-such-device")
                    return devices, caught.value.code

                devices, code = asyncio.run(calls())
                owned = [d["deviceId"] for d in lg_sandbox.devices(owner="KR2024000000001")]
                assert [d["deviceId"] for d in devices] == owned
                assert code == "1205"
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-W", "error::ResourceWarning")
    result.assert_outcomes(passed=1)
