"""Where the project's data lives: the repository checkout, or the installed wheel.

In a checkout (and an editable install) ``openapi/`` and ``fixtures/`` sit beside the
``lgspecs`` package; a built wheel carries them as ``lgspecs/_data/`` (see
``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml). The server and
the contract kit both ask here, so they read the same files.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    for candidate in (PACKAGE_DIR.parent / name, PACKAGE_DIR / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"lgmock data folder {name!r} is missing from this installation")


def openapi_dir() -> Path:
    return data_dir("openapi")


def fixtures_dir() -> Path:
    return data_dir("fixtures")


def profiles_dir() -> Path:
    return fixtures_dir() / "profiles"


def default_scenario() -> Path:
    return fixtures_dir() / "scenarios" / "default.yaml"
