"""The ThinQ Connect commands of README.md and docs/thinq-connect.md, run as written."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.doc_blocks import REPO, doc_block, run_doc_block
from tests.support import KR_FRIDGE, KR_USER, RunningServer


def test_the_readme_sdk_example_lists_the_users_devices_through_lgs_sdk(
    http: httpx.Client, server: RunningServer
) -> None:
    block = doc_block("README.md", "connect-sdk-example")
    assert len(block.text.strip().splitlines()) <= 10
    port = server.base_url.rsplit(":", 1)[1]
    script = block.text.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    owned = [d for d in http.get("/_sandbox/state").json()["devices"] if d["owner"] == KR_USER]
    lines = done.stdout.splitlines()
    assert len(lines) == len(owned)
    assert all(line.startswith(d["alias"] + " ") for line, d in zip(lines, owned, strict=True))


def test_the_first_connect_call_lists_the_devices(
    http: httpx.Client, server: RunningServer
) -> None:
    run = run_doc_block("docs/thinq-connect.md", "connect-first-call", sandbox=server.base_url)
    body = json.loads(run.check().stdout)
    assert body["messageId"] == "Ig7pfvgQQFiLjrKoBFJ0xg"
    assert KR_FRIDGE in [d["deviceId"] for d in body["response"]]


def test_the_connect_contract_run_passes(http: httpx.Client, server: RunningServer) -> None:
    run = run_doc_block(
        "docs/thinq-connect.md", "connect-contract", sandbox=server.base_url, timeout=300
    ).check()
    assert "**PASSED" in run.stdout
    assert "| connect | `GET /devices` |" in run.stdout
