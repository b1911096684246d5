"""JSON values as profiles, statuses and messages see them, shared by the whole package.

Python's equality is not JSON's (``True == 1``), so every check compares values with
``same_value``; and every message shows values and JSON paths the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def show_value(value: Any) -> str:
    """A value as a message shows it: strings quoted like the examples, the rest as JSON."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show_value(item) for item in value) + "]"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def is_number(value: Any) -> bool:
    # bool is an int in Python but never a number in a profile.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type: True must not match 1, nor 1 match "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def join_path(path: str, name: str) -> str:
    """The JSON path of ``name`` inside ``path`` ("" is the top, so no leading dot)."""
    return f"{path}.{name}" if path else name


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): several times faster than deepcopy.

    orjson's encoder and decoder in C do it in half the time of a Python walk; a value
    it refuses (an integer past 64 bits, a key that is no string) is walked instead.
    """
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return _walk_copy(value)


def _walk_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _walk_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk_copy(item) for item in value]
    return value
