"""The kit and the server stand apart: each imports only ``lgspecs`` of the other's world.

A kit that read the server's own catalogues would agree with any wrong constant in
them; the spec documents, their tables and the mount table live in ``lgspecs``, which
both the server and the kit import. The other way round, the server reaches the kit only
through entry points (`lgmock contract`, `lgmock record`, `lgmock receiver` and the
dashboard's coverage page), so a server installed without the kit still runs. These
tests read both packages' source (every import, wherever it sits) and the installed
entry points, so a shortcut taken later fails here.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

import contract_tests
import mockserver
from contract_tests import client_report, receiver_cli
from mockserver import cli
from mockserver.dashboard import routes

KIT = Path(contract_tests.__file__).resolve().parent
SERVER = Path(mockserver.__file__).resolve().parent


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, `from mockserver import x` as mockserver.x."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_the_kit_imports_nothing_of_mockserver() -> None:
    offending = [
        f"{path.relative_to(KIT.parent)}:{line} imports {module}"
        for path in sorted(KIT.rglob("*.py"))
        for line, module in imports_of(path)
        if module == "mockserver" or module.startswith("mockserver.")
    ]
    assert offending == []


def test_the_server_imports_nothing_of_the_kit() -> None:
    offending = [
        f"{path.relative_to(SERVER.parent)}:{line} imports {module}"
        for path in sorted(SERVER.rglob("*.py"))
        for line, module in imports_of(path)
        if module == "contract_tests" or module.startswith("contract_tests.")
    ]
    assert offending == []


def test_the_server_reaches_the_kit_through_entry_points() -> None:
    from importlib import metadata

    reports = metadata.entry_points(group=routes.REPORTS_GROUP)
    assert [e.value for e in reports if e.name == "coverage"] == [
        "contract_tests.client_report:coverage"
    ]
    assert routes.coverage_report() is client_report.coverage
    # The kit's commands are in `lgmock` through its one `lgmock.commands` entry point.
    parser = cli.build_parser()
    assert parser.parse_args(["receiver", "--port", "0"]).run is receiver_cli._receiver
    assert parser.parse_args(["contract", "mark"]).contract_command == "mark"


def test_without_the_entry_points_the_server_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    monkeypatch.setattr(metadata, "entry_points", lambda group: [])
    assert routes.coverage_report() is None
    parser = cli.build_parser()
    assert parser.parse_args(["serve", "--port", "0"]).port == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["receiver"])  # the kit's command is not there


def test_the_check_sees_through_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from mockserver import errors\nimport mockserver.operations\n"
        "def f():\n    from mockserver.backends.thinq import X\n",
        encoding="utf-8",
    )
    modules = {module for _, module in imports_of(sample)}
    assert {"mockserver.errors", "mockserver.operations", "mockserver.backends.thinq"} <= modules


def test_the_contract_commands_come_from_an_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mockserver.cli adds whatever the `lgmock.commands` entry points register."""
    from importlib import metadata

    declared = metadata.entry_points(group=cli.COMMANDS_GROUP)
    assert [e.value for e in declared if e.name == "contract"] == ["contract_tests.cli:register"]

    added = []

    class Fake:
        name = "fake"

        def load(self):  # type: ignore[no-untyped-def]
            return lambda commands: added.append(commands.add_parser("fake"))

    monkeypatch.setattr(metadata, "entry_points", lambda group: [Fake()])
    parser = argparse.ArgumentParser()
    cli._register_plugins(parser.add_subparsers())
    assert len(added) == 1
    assert parser.parse_args(["fake"]) is not None
