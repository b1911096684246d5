"""The sandbox control API (openapi/sandbox.yaml), one function per operationId."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connexion import request

from mockserver import scenario
from mockserver.errors import ApiError, Err
from mockserver.handlers.context import Reply, current_runtime


def _health() -> dict[str, Any]:
    return {"status": "ok", **current_runtime.get().sandbox.summary()}


async def get_health() -> Reply:
    return _health(), 200, {}


async def reset_sandbox() -> Reply:
    current_runtime.get().reset()
    return _health(), 200, {}


async def load_scenario(body: Any = None) -> Reply:
    source = "<request body>"
    try:
        if isinstance(body, dict):
            document = body
        else:
            # YAML arrives as text; connexion hands non-JSON bodies over untouched.
            raw = body if isinstance(body, bytes | str) else await request.body()
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            document = scenario.parse(text, source)
        current_runtime.get().load(document, source)
    except scenario.ScenarioError as exc:
        raise ApiError(
            Err.INVALID_BODY,
            f"scenario refused, the state did not change ({len(exc.problems)} problem(s))",
            details=exc.problems,
        ) from exc
    return _health(), 200, {}


async def get_scenario_schema() -> Reply:
    return scenario.schema(), 200, {}


async def get_state() -> Reply:
    return scenario.export(current_runtime.get().sandbox), 200, {}


async def get_clock() -> Reply:
    return current_runtime.get().sandbox.clock.to_dict(), 200, {}


async def set_clock(body: dict[str, Any]) -> Reply:
    clock = current_runtime.get().sandbox.clock
    moment = None
    if "set" in body:
        try:
            moment = datetime.fromisoformat(body["set"])
        except ValueError as exc:
            raise ApiError(Err.INVALID_BODY, f"set: {exc}", field="body.set") from exc
    # Freeze first and release last, so `{"set": T, "freeze": true}` reads exactly T.
    if body.get("freeze") is True:
        clock.freeze()
    if moment is not None:
        clock.set(moment)
    if "advance" in body:
        clock.advance(float(body["advance"]))
    if body.get("freeze") is False:
        clock.release()
    return clock.to_dict(), 200, {}
