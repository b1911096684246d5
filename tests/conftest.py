"""Shared fixtures: a real `lgmock serve` process on a free port, and a client on it.

API and end-to-end tests talk HTTP to that process, exactly as a partner's client
would; only tests/unit uses objects in-process.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mockserver.paths import default_scenario
from tests.support import RunningServer, start_server, stop_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    stop_server(running)
    # Any traceback in the server log is a 500 somebody did not see: fail loudly.
    assert "Traceback" not in running.log(), running.log()


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    """A client on a sandbox freshly loaded with the default scenario.

    Loading (not just resetting) matters: a reset returns to the last scenario loaded,
    which may be one an earlier test posted.
    """
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        answer = client.post(
            "/_sandbox/scenario",
            content=default_scenario().read_bytes(),
            headers={"Content-Type": "application/yaml"},
        )
        assert answer.status_code == 200, answer.text
        yield client
