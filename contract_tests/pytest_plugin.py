"""pytest plugin (entry point ``pytest11``): a real lgmock sandbox for a client's tests.

Fixtures:
- ``lg_sandbox``: a running sandbox (``contract_tests.sandbox.Sandbox``): URLs,
  credentials of the loaded scenario, and helpers (``reset``, ``load_scenario``,
  ``advance_clock``, ``set_online``, ``callbacks``, ``token``, ``bc_headers``,
  ``thinq_headers``, ``add_fault``...). Session-scoped by default
  (``--lg-sandbox-scope``); started as a real ``lgmock serve`` process on a free port,
  or the one at ``--lg-sandbox-url``.
- ``callback_receiver``: a real HTTP receiver every service and partner of that sandbox
  delivers to during the test, with waiting helpers.
- ``thinq_connect_api``: LG's own ``thinqconnect.ThinQApi`` bound to that sandbox (only
  its host-bound method overridden), as the loaded scenario's first user with a ``pat``.
  Needs the ``connect`` extra (``pip install 'lgmock[connect]'``); imported only when a
  test asks for it.
- ``thinq_connect_mqtt``: LG's own MQTT client (``thinqconnect.ThinQMQTTClient``) of the
  scenario's first user with a ``pat``, registered, given its certificate, connected to
  the sandbox's broker with mutual TLS and subscribed to its topic; only the SDK's
  download of Amazon's root CA is replaced by the sandbox's CA
  (``contract_tests.thinq_mqtt``). Subscribe to devices with ``client.call(...)``, read
  messages with ``client.wait_for(...)``.

Installed in every pytest run of an environment that has lgmock: importing it costs
only this module, and nothing starts unless a test asks for a fixture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from thinqconnect import ThinQApi

    from contract_tests.sandbox import Sandbox, SandboxReceiver
    from contract_tests.thinq_mqtt import SandboxMqttClient

SCOPES = ("session", "package", "module", "class", "function")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lgmock", "lgmock sandbox fixtures (lg_sandbox, callback_receiver)")
    group.addoption(
        "--lg-sandbox-url",
        default=os.environ.get("LGMOCK_SANDBOX_URL"),
        help="use the sandbox already running at this URL instead of starting one "
        "(env LGMOCK_SANDBOX_URL)",
    )
    group.addoption(
        "--lg-scenario",
        type=Path,
        default=None,
        help="scenario file (YAML or JSON) the sandbox starts with",
    )
    group.addoption(
        "--lg-sandbox-scope",
        choices=SCOPES,
        default="session",
        help="how long one lg_sandbox lives; 'function' starts one per test",
    )


def _sandbox_scope(fixture_name: str, config: pytest.Config) -> str:
    return str(config.getoption("lg_sandbox_scope", default="session") or "session")


@pytest.fixture(scope=_sandbox_scope)  # type: ignore[arg-type]
def lg_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A running lgmock sandbox; call ``reset()`` where a test needs a clean state."""
    from contract_tests.sandbox import Sandbox, SandboxProcess

    config = request.config
    url = config.getoption("lg_sandbox_url")
    scenario = config.getoption("lg_scenario")
    process = None
    if url:
        sandbox = Sandbox(url)
        if scenario is not None:
            sandbox.load_scenario(Path(scenario))
    else:
        log_dir = request.getfixturevalue("tmp_path_factory").mktemp("lg_sandbox")
        process = SandboxProcess(scenario=scenario, log_dir=log_dir)
        sandbox = Sandbox(process.base_url)
    sandbox.process = process
    try:
        yield sandbox
    finally:
        sandbox.close()
        if process is not None:
            process.stop()


@pytest.fixture
def callback_receiver(lg_sandbox: Sandbox) -> Iterator[SandboxReceiver]:
    """A receiver the sandbox delivers every ThinQ callback (``/thinq``) and Business
    Connect push message (``/bc``) to, for this test; registered again after
    ``lg_sandbox.reset()`` or ``load_scenario()``."""
    from contract_tests.sandbox import SandboxReceiver

    receiver = SandboxReceiver().start()
    try:
        receiver.attach(lg_sandbox)
        yield receiver
    finally:
        try:
            receiver.detach()
        finally:
            receiver.stop()


@pytest.fixture
def thinq_connect_api(lg_sandbox: Sandbox) -> Iterator[ThinQApi]:
    """LG's ThinQApi on the sandbox, as the first user of the loaded scenario with a PAT.

    The SDK makes its own aiohttp session on its first call, in that call's event loop
    (``asyncio.run(...)`` or an async test): use the fixture within one loop. The session
    is closed at the end of the test.
    """
    from contract_tests.thinq_connect import close_sdk_session, sdk_api

    user = next((u for u in lg_sandbox.users if u.get("pat")), None)
    if user is None:
        raise pytest.UsageError(
            "thinq_connect_api: no user of the loaded scenario has a pat (personal access "
            "token); give one to a user (users[].pat) to call ThinQ Connect"
        )
    api = sdk_api(lg_sandbox.base_url, user)
    try:
        yield api
    finally:
        close_sdk_session(api)


@pytest.fixture
def thinq_connect_mqtt(lg_sandbox: Sandbox) -> Iterator[SandboxMqttClient]:
    """LG's ThinQMQTTClient on the sandbox, connected; unregistered after the test."""
    from contract_tests.thinq_mqtt import connected_client

    user = next((u for u in lg_sandbox.state()["users"] if u.get("pat")), None)
    if user is None:
        pytest.fail("the sandbox's scenario has no user with a pat (personal access token)")
    client = connected_client(lg_sandbox.base_url, user)
    try:
        yield client
    finally:
        client.stop()
