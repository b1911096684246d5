"""End to end: `lgmock serve` as a real process, driven the way the README shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from mockserver.errors import new_message_id
from tests.support import (
    KR_FRIDGE,
    KR_TOKEN,
    PARTNER_KEY,
    PARTNER_SECRET,
    free_port,
    lgmock_command,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.e2e


def test_readme_walkthrough(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        banner = server.log()
        assert f"{server.base_url}/bc/v1" in banner
        assert PARTNER_KEY in banner and PARTNER_SECRET in banner and KR_TOKEN in banner
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            # 1. token
            token = http.post(
                "/bc/v1/token", headers={"X-Api-Key": PARTNER_KEY, "X-Api-Secret": PARTNER_SECRET}
            ).json()["access_token"]

            def headers() -> dict[str, str]:
                return {
                    "X-Api-Key": PARTNER_KEY,
                    "X-Api-Token": token,
                    "X-Message-Id": new_message_id(),
                    "X-Use-Account": "IN-HEADER",
                    "Authorization": f"Bearer {KR_TOKEN}",
                    "X-Country-Code": "KR",
                }

            # 2. devices
            devices = http.get("/bc/v1/devices", headers=headers()).json()["response"]
            assert KR_FRIDGE in {d["deviceId"] for d in devices}
            # 3. profile
            profile = http.get(f"/bc/v1/devices/profile/{KR_FRIDGE}", headers=headers())
            assert profile.status_code == 200
            fridge = next(
                e
                for e in profile.json()["response"]["property"]["temperature"]
                if e["locationName"] == "FRIDGE"
            )
            target = fridge["targetTemperature"]["value"]["w"]["min"]
            # 4. status
            status = http.get(f"/bc/v1/devices/{KR_FRIDGE}", headers=headers())
            assert status.status_code == 200
            # 5. control
            command = {"temperature": {"locationName": "FRIDGE", "targetTemperature": target}}
            control = http.post(f"/bc/v1/devices/{KR_FRIDGE}", headers=headers(), json=command)
            assert control.status_code == 200, control.text
            # 6. status again shows the change
            after = http.get(f"/bc/v1/devices/{KR_FRIDGE}", headers=headers()).json()["response"]
            now = next(e for e in after["temperature"] if e["locationName"] == "FRIDGE")
            assert now["targetTemperature"] == target
            # Swagger UI is served.
            assert http.get("/bc/ui/").status_code == 200
    finally:
        stop_server(server)
    assert "Traceback" not in server.log()


def test_bad_scenario_file_stops_the_start_with_file_path_and_reason(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.yaml"
    scenario.write_text("partners:\n  - partnerId: p\n    apiKey: k\n")
    result = subprocess.run(
        [*lgmock_command(), "serve", "--port", str(free_port()), "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{scenario}: $.partners[0]: 'apiSecret' is a required property" in result.stderr


def test_seed_makes_generated_status_reproducible(tmp_path: Path) -> None:
    states = []
    for _ in range(2):
        server = start_server(tmp_path, "--seed", "1234")
        try:
            states.append(httpx.get(f"{server.base_url}/_sandbox/state").json()["devices"])
        finally:
            stop_server(server)
    assert states[0] == states[1]
