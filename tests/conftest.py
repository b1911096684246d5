"""Shared fixtures: a real `lgmock serve` process on a free port, and a client on it.

API and end-to-end tests talk HTTP to that process, exactly as a partner's client
would; only tests/unit uses objects in-process.

Tiers (all of them run in the default ``pytest``, which is what CI runs):

- ``tests/unit``: in-process, no server, no sockets.
- ``tests/api``, ``tests/contract``, ``examples``: HTTP against the ``server`` fixture.
- ``tests/e2e`` (mark ``e2e``): start their own ``lgmock`` processes.
- ``tests/faults`` (marks ``e2e`` and ``slow``): faults injected into their own
  ``lgmock`` processes (kill -9, full disk, I/O errors, reset storms, hostile peers),
  every answer checked against a client-side model (docs/durability.md).
- ``tests/home_assistant`` (mark ``homeassistant``): Home Assistant's lg_thinq against a
  real ``lgmock serve``, in its own venv (``tests/home_assistant/run``), not collected here.
- mark ``slow``: anything over ~5 s on an idle 2-core machine (schemathesis runs,
  delivery retries, soak). ``pytest -m "not slow"`` is the quick loop while coding.

The run is parallel (``-n auto`` in pyproject.toml). ``server`` is session-scoped, and
pytest-xdist gives each worker its own session, so each worker has its own sandbox on its
own free port: tests never share a server across workers, and never need a fixed port.
A test that changes the sandbox takes ``http``, which loads the default scenario first,
so tests do not depend on the order or the worker they run in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from lgspecs.data import default_scenario
from tests.support import RunningServer, start_server, stop_server

# The Home Assistant tier runs in a venv of its own (Python 3.13, Home Assistant 2025.4):
# tests/home_assistant/run, called by .ci/run after this suite.
collect_ignore = ["home_assistant"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """This worker's `lgmock serve` process (its log is named after the worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    running = start_server(tmp_path_factory.mktemp(f"server-{worker}"))
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
