"""The kit runs after the README's first command (`pip install -e .`), no extra needed."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from contract_tests import cli
from tests.support import REPO


def test_the_kit_dependencies_install_with_lgmock() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {dep.split(">")[0].split("=")[0].split("[")[0].strip().lower() for dep in
             project["dependencies"]}  # fmt: skip
    assert {"schemathesis", "hypothesis"} <= names


def test_a_missing_dependency_names_a_command_that_installs_it() -> None:
    hint = cli._missing("hypothesis", "no_such_module_lgmock")
    assert "lgmock[test]" not in hint
    command = hint.split(": ", 1)[1]
    assert command == f"{sys.executable} -m pip install no_such_module_lgmock"
    # The named interpreter and its pip are real (a dry run installs nothing).
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
