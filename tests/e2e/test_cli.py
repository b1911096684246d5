"""The `lgmock` command's spec and scenario subcommands, run as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

from lgspecs.data import default_scenario
from tests.support import lgmock_command


def lgmock(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*lgmock_command(), *args], capture_output=True, text=True, timeout=120)


def test_spec_lint_lists_vendor_defects_and_none_after_the_overlay() -> None:
    result = lgmock("spec", "lint")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[info] info/version: is not a string (null)" in out
    assert "[operationId] POST /v1/dr/groups: has no operationId" in out
    assert "[code-table] code 4314: means different things" in out
    assert out.count("[ref-sibling]") == 48
    assert "after business-connect.overlay.yaml: 0 findings" in out


def test_spec_build_writes_valid_documents(tmp_path: Path) -> None:
    result = lgmock("spec", "build", str(tmp_path))
    assert result.returncode == 0, result.stderr
    repaired = yaml.safe_load((tmp_path / "business-connect.yaml").read_text())
    assert list(OpenAPIV31SpecValidator(repaired).iter_errors()) == []
    derived = yaml.safe_load((tmp_path / "business-connect.openapi30.yaml").read_text())
    assert derived["openapi"] == "3.0.3"


def test_scenario_check(tmp_path: Path) -> None:
    assert lgmock("scenario", str(default_scenario())).returncode == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("devices:\n  - deviceId: x\n    deviceType: lowercase\n    profile: a.json\n")
    result = lgmock("scenario", str(broken))
    assert result.returncode == 2
    assert f"{broken}: $.devices[0].deviceType" in result.stderr
