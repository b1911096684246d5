"""The README opens with the two set-up commands, CI runs the second verbatim, and the
page stays a front door: short, with a contents table into docs/."""

from __future__ import annotations

import re

from tests.doc_blocks import REPO, doc_block, page_blocks

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_serve_then_test() -> None:
    # Only the title and the blocks' names (HTML comments, invisible) come first.
    first, second = page_blocks("README.md")[:2]
    assert (first.name, second.name) == ("setup-serve", "setup-test")
    before = README[: README.index("```bash")]
    assert re.sub(r"<!--.*?-->", "", before).strip() == "# lgmock"
    serve = doc_block("README.md", "setup-serve").text.strip()
    test = doc_block("README.md", "setup-test").text.strip()
    assert serve.startswith("python3.11 -m venv .venv") and serve.endswith("lgmock serve")
    assert test.endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert doc_block("README.md", "setup-test").text.strip() in ci


def test_readme_fits_and_points_into_docs() -> None:
    assert len(README.splitlines()) <= 300
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", README))
    for page in ("configuration", "control-api", "errors", "reproducing", "dr"):
        assert f"docs/{page}.md" in linked
        assert (REPO / "docs" / f"{page}.md").exists(), page
    for page in ("contract-kit", "architecture", "scale", "durability", "dashboard"):
        assert f"docs/{page}.md" in linked  # written by the engineers of those parts
