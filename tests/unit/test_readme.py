"""The README opens with the two set-up commands, and CI runs the second verbatim."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_opens_with_serve_then_test() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = text.index("```bash")
    assert text[:first_block].strip() == "# lgmock"
    serve, test = readme_commands()[:2]
    assert serve.endswith("lgmock serve")
    assert test.endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci


def test_readme_names_every_documented_code() -> None:
    from mockserver.errors import BC_CODES, THINQ_CODES

    text = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [c for c in [*BC_CODES, *THINQ_CODES] if f"{c}" not in text]
    assert missing == []
