"""Schemathesis from outside, all checks, against a real `lgmock serve`: 0 server errors.

Not the kit's tuned run (`lgmock contract server` leaves out the checks the LG specs
contradict and drives the credentials itself): this is what an outside user does, the
schemathesis CLI with `--checks all` on each API's spec document, the control API
included (issue 19, "Done when"). Only server errors (ST101) fail the test: the checks
the specs contradict (a missing Authorization is 400 4101, not 401; a schema-valid
command may be refused by the device's profile) report findings that are not bugs, and
docs/contract-kit.md lists them. Each API gets a sandbox of its own, so the control
API's scenario loads and resets do not empty the others' state mid-run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
import yaml

from lgspecs import tables
from lgspecs.mounts import MOUNTS, Api, Mount
from tests.support import KR_TOKEN, PARTNER_KEY, PARTNER_SECRET, bc_token, start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

MAX_EXAMPLES = 20
MAX_TIME = 90  # seconds of schemathesis per API
SEED = 7


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    found = str(script) if script.exists() else shutil.which("schemathesis")
    assert found, "the schemathesis CLI is not installed (a dependency of lgmock)"
    return [found]


def credentials(api: Api, base_url: str) -> list[str]:
    """What a client of each API sends: the default scenario's first partner and user."""
    if api is Api.BUSINESS_CONNECT:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            token = bc_token(client)
        return [f"X-Api-Key: {PARTNER_KEY}", f"X-Api-Secret: {PARTNER_SECRET}",
                f"X-Api-Token: {token}", f"Authorization: Bearer {KR_TOKEN}",
                "X-Country-Code: KR"]  # fmt: skip
    if api is Api.THINQ_ASYNC:
        return [f"Authorization: Bearer {KR_TOKEN}", "x-service-id: acme-thinq-service",
                "x-service-key: acme-thinq-service-key", "x-country-code: KR"]  # fmt: skip
    if api is Api.THINQ_CONNECT:
        # The PAT of the default scenario's first user, and the SDK's own API key.
        return ["Authorization: Bearer thinqpat_kr2024000000001_sandbox_pat_0001",
                "x-country: KR", "x-client-id: lgmock-fuzz-client",
                "x-api-key: v6GFvkweNo7DK7yD3ylIZ9w52aKBU0eJ7wLXkSR3",
                "x-service-phase: OP"]  # fmt: skip
    return []  # the control API takes none; an API added later is fuzzed as a stranger


def root(mount: Mount, document: dict, base_url: str) -> str:
    """Where the document's paths are served (ThinQ's already begin with /v2)."""
    path = next(iter(document["paths"]))
    served = mount.served_path(path)
    return base_url + served[: len(served) - len(path)]


@pytest.mark.parametrize("mount", MOUNTS, ids=[mount.api.value for mount in MOUNTS])
def test_schemathesis_with_all_checks_finds_no_server_error(mount: Mount, tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        document = mount.document()
        spec = tmp_path / f"{mount.name}.yaml"
        spec.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        junit = tmp_path / "junit.xml"
        headers = [arg for header in credentials(mount.api, server.base_url)
                   for arg in ("-H", header)]  # fmt: skip
        done = subprocess.run(
            [*schemathesis_command(), "run", str(spec), "--url",
             root(mount, document, server.base_url), "--checks", "all", "--workers", "1",
             "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_TIME),
             "--seed", str(SEED), "--report", "junit", "--report-junit-path", str(junit),
             *headers],
            capture_output=True, text=True, timeout=MAX_TIME + 180, cwd=tmp_path,
        )  # fmt: skip
        assert junit.exists(), done.stdout[-3000:] + done.stderr[-3000:]
        cases = ET.parse(junit).getroot().iter("testcase")
        tested = 0
        server_errors = []
        for case in cases:
            tested += case.get("name") != "Stateful tests"  # one case per operation, and this
            for failure in case.findall("failure"):
                if "ST101" in (failure.get("message") or ""):
                    server_errors.append(f"{case.get('name')}:\n{failure.text}")
        assert server_errors == [], "\n\n".join(server_errors) + "\n\n" + server.log()[-3000:]
        # One test case per operation: every operation of the document was fuzzed.
        assert tested == len(list(tables.iter_operations(document))), done.stdout[-3000:]
        assert "Traceback" not in server.log(), server.log()[-3000:]
    finally:
        stop_server(server)
