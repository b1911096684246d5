"""The one JSON encoder and decoder of the request path.

orjson encodes and decodes the sandbox's bodies several times faster than the standard
library (measured in benchmarks/README.md, "JSON"). Output is compact UTF-8, as the vendor's own
answers are. Values orjson refuses (integers past 64 bits) fall back to ``json``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

DecodeError = orjson.JSONDecodeError  # a subclass of json.JSONDecodeError


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)
