"""Fault rules and the ``Prefer`` header: making the sandbox fail on purpose.

A rule matches requests (by operationId, method, path, deviceId, caller) or callback
deliveries (by deviceId, kind, URL) and has one effect:

- requests: ``error`` (a documented vendor code, answered exactly as the service would),
  ``status`` (a bare HTTP status, as a gateway in front of the service would answer),
  ``delay`` (ms), ``drop`` (close the connection, no answer), ``truncate`` (the answer
  is cut short), ``malformed`` (the answer's body is not JSON);
- callbacks: ``delay`` (ms), ``drop`` (never delivered), ``duplicate`` (delivered
  twice), ``reorder`` (overtaken by the next message of the same lane).

``probability`` (0..1) and ``count`` (how many times it may fire) bound a rule; the
random draw uses the sandbox's seed so a run can be reproduced.
``Prefer: error=<code>`` and ``Prefer: delay=<ms>`` are one-request rules.
"""

from __future__ import annotations

import difflib
import fnmatch
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mockserver.errors import Api, ApiError, Err, lookup_code

REQUEST_EFFECTS = ("error", "status", "delay", "drop", "truncate", "malformed")
CALLBACK_EFFECTS = ("delay", "drop", "duplicate", "reorder")
MAX_DELAY_MS = 120_000
# The APIs a rule applies to when it names none: every vendor API, not the control API.
VENDOR_APIS = tuple(api for api in Api if api is not Api.SANDBOX)


@dataclass
class FaultRule:
    id: str
    target: str  # "request" or "callback"
    effect: dict[str, Any]
    match: dict[str, str] = field(default_factory=dict)
    probability: float = 1.0
    count: int | None = None  # None: unlimited
    fired: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "match": dict(self.match),
            "effect": dict(self.effect),
            "probability": self.probability,
            "count": self.count,
            "fired": self.fired,
        }

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, facts: dict[str, str | None]) -> bool:
        for key, wanted in self.match.items():
            actual = facts.get(key)
            if actual is None:
                return False
            if key == "path" and fnmatch.fnmatchcase(actual, wanted):
                continue
            if key == "method" and actual.upper() == wanted.upper():
                continue
            if actual != wanted:
                return False
        return True


class FaultRules:
    def __init__(self, seed: int = 0) -> None:
        self.rules: dict[str, FaultRule] = {}
        self._ids = itertools.count(1)
        self._random = random.Random(f"faults:{seed}")
        self._fired_unsaved = False  # a rule's count moved since the state file asked
        # Set by the sandbox: marks the faults family changed (the state file).
        self.changed: Callable[[], None] = _nothing

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """A rule from its JSON form; refused whole with the field at fault."""
        target = spec.get("target", "request")
        effects = REQUEST_EFFECTS if target == "request" else CALLBACK_EFFECTS
        effect = dict(spec.get("effect") or {})
        if len(effect) != 1 or next(iter(effect)) not in effects:
            raise ApiError(
                Err.INVALID_BODY,
                f"effect must have exactly one of {list(effects)} for a {target} rule",
                field="effect",
            )
        name, value = next(iter(effect.items()))
        if name == "delay" and not (isinstance(value, int) and 0 <= value <= MAX_DELAY_MS):
            raise ApiError(
                Err.INVALID_BODY, f"delay is milliseconds, 0..{MAX_DELAY_MS}", field="effect.delay"
            )
        if name == "status" and not (isinstance(value, int) and 100 <= value <= 599):
            raise ApiError(Err.INVALID_BODY, "status is an HTTP status", field="effect.status")
        if name == "error":
            check_vendor_code(str(value), spec.get("match", {}).get("api"))
            effect["error"] = str(value)
        match = spec.get("match") or {}
        if target == "request" and "operationId" in match:
            check_operation_id(str(match["operationId"]), match.get("api"))
        rule_id = spec.get("id")
        while not rule_id or (rule_id in self.rules and not spec.get("id")):
            rule_id = f"fault-{next(self._ids)}"  # restored rules keep their ids
        rule = FaultRule(
            id=rule_id,
            target=target,
            effect=effect,
            match={k: str(v) for k, v in (spec.get("match") or {}).items()},
            probability=float(spec.get("probability", 1.0)),
            count=spec.get("count"),
            fired=int(spec.get("fired", 0)),
        )
        self.rules[rule.id] = rule
        self.changed()
        return rule

    def remove(self, rule_id: str) -> None:
        if self.rules.pop(rule_id, None) is None:
            raise ApiError(Err.FAULT_RULE_NOT_FOUND, f"no fault rule {rule_id}", field="faultId")
        self.changed()

    def clear(self) -> None:
        self.rules.clear()
        self.changed()

    def fire(self, target: str, facts: dict[str, str | None]) -> FaultRule | None:
        """The first live rule for these facts that wins its draw; counts the firing."""
        for rule in self.rules.values():
            if rule.target != target or rule.exhausted or not rule.matches(facts):
                continue
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            rule.fired += 1
            self._fired_unsaved = True
            return rule
        return None

    def has_fired(self) -> bool:
        return self._fired_unsaved

    def take_fired(self) -> bool:
        """Whether any rule fired since the last call (the state file stores the counts)."""
        fired, self._fired_unsaved = self._fired_unsaved, False
        return fired

    def export(self) -> list[dict[str, Any]]:
        return [rule.to_dict() for rule in self.rules.values()]


def check_vendor_code(code: str, api_name: str | None = None) -> None:
    apis = [Api(api_name)] if api_name else list(VENDOR_APIS)
    if not any(lookup_code(api, code) for api in apis):
        raise ApiError(
            Err.INVALID_BODY,
            f"{code!r} is not a documented code of {' or '.join(a.value for a in apis)}",
            field="effect.error",
        )


def check_operation_id(operation_id: str, api_name: str | None = None) -> None:
    """A rule for an operationId no API has could never fire: refuse it, with the
    nearest real names (``getStatus`` -> ``getStatusOfDevice``)."""
    # Deferred: the operation table is built from the served specs, once, on first use.
    from mockserver import operations

    apis = [Api(api_name)] if api_name else list(VENDOR_APIS)
    known = sorted({op.operation_id for op in operations.table() if op.api in apis})
    if operation_id in known:
        return
    near = difflib.get_close_matches(operation_id, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(near)}?" if near else " (Swagger UI lists them)"
    raise ApiError(
        Err.INVALID_BODY,
        f"match.operationId: {operation_id!r} is not an operation of "
        f"{' or '.join(a.value for a in apis)}, so the rule could never fire{hint}",
        field="match.operationId",
    )


@dataclass(frozen=True)
class Preference:
    """What a ``Prefer`` header asks for."""

    error: str | None = None
    delay_ms: int = 0


def parse_prefer(value: str | None, api: Api) -> Preference:
    """``Prefer: error=4304, delay=200`` -> Preference; a bad value is the client's fault."""
    if not value:
        return Preference()
    error, delay = None, 0
    for part in value.split(","):
        name, _, raw = part.strip().partition("=")
        name, raw = name.strip().lower(), raw.strip().strip('"')
        if name == "error":
            if lookup_code(api, raw) is None:
                raise ApiError(
                    Err.INVALID_HEADER,
                    f"Prefer: error={raw} is not a documented code of this API "
                    f"(see GET /_sandbox/codes)",
                    field="Prefer",
                )
            error = raw
        elif name == "delay":
            # ASCII digits only: isdigit() is true of "²" too, which int() refuses.
            if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_DELAY_MS:
                raise ApiError(
                    Err.INVALID_HEADER,
                    f"Prefer: delay takes milliseconds, 0..{MAX_DELAY_MS}",
                    field="Prefer",
                )
            delay = int(raw)
        # Other preferences (RFC 7240: return=, respond-async, ...) are not ours: ignored.
    return Preference(error, delay)


def _nothing() -> None:
    pass
