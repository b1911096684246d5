"""Profile files: reading one, and finding the one a scenario names among the fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mockserver.profiles.device_profile import DeviceProfile
from mockserver.profiles.model import ProfileError


def load_profile_file(path: Path, *, source: str | None = None) -> DeviceProfile:
    """Read one profile JSON file; errors name it as ``<type dir>/<file>`` unless told."""
    path = Path(path)
    name = source or f"{path.parent.name}/{path.name}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(name, "", "no such file") from None
    except OSError as exc:
        raise ProfileError(name, "", f"cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            name, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return DeviceProfile.from_dict(data, source=name)


def resolve_profile(ref: str | dict[str, Any], fixtures_dir: Path) -> DeviceProfile:
    """A scenario's ``profile:``: a path relative to the profile fixtures, or an inline object.

    ``fixtures_dir`` is the profiles folder (``fixtures/profiles``); given ``fixtures/``
    itself, its ``profiles`` folder is used. A path may not leave that folder.
    """
    if isinstance(ref, dict):
        return DeviceProfile.from_dict(ref, source="<inline>")
    if not isinstance(ref, str) or not ref.strip():
        raise ProfileError(
            "<profile>", "", "expected a fixture path like 'refrigerator/basic.json' or an object"
        )
    root = fixtures_dir.resolve()
    if not (root / ref).is_file() and (root / "profiles").is_dir():
        root = (root / "profiles").resolve()
    candidate = (root / ref).resolve()
    if not candidate.is_relative_to(root):
        raise ProfileError(ref, "", f"refused: the path leaves the profile fixtures folder {root}")
    if not candidate.is_file():
        known = sorted(str(p.relative_to(root)) for p in root.glob("*/*.json"))
        raise ProfileError(ref, "", f"no such profile fixture; available: {', '.join(known)}")
    return load_profile_file(candidate, source=ref)
