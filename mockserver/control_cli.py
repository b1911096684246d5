"""`lgmock reset|load|state|fault|clock|device|journal|callbacks|redeliver`: the control
API from a shell, against a running sandbox (``--url``; default ``$LGMOCK_SANDBOX_URL``,
else http://127.0.0.1:8080, as ``lgmock contract report`` and the pytest plugin do).

Output is for people by default; ``--json`` prints the API's JSON for scripts. A refusal
from the sandbox prints its message and exits 1; an unreachable sandbox exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
URL_VARIABLE = "LGMOCK_SANDBOX_URL"


class ControlError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def register(commands: argparse._SubParsersAction) -> None:
    def command(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument(
            "--url",
            default=os.environ.get(URL_VARIABLE) or DEFAULT_URL,
            help=f"the sandbox (env {URL_VARIABLE}, else {DEFAULT_URL})",
        )
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")
        parser.set_defaults(run=lambda args: _run(run, args))
        return parser

    command("reset", "reset a running sandbox to its last loaded scenario", _reset)
    load = command("load", "load a scenario file (YAML or JSON) into a running sandbox", _load)
    load.add_argument("file", type=Path)
    state = command("state", "export a running sandbox's whole state", _state)
    state.add_argument("--out", type=Path, help="write to FILE instead of standard output")

    fault = command("fault", "fault rules: add, list, clear", _fault)
    fault.add_argument("action", choices=["add", "list", "clear", "remove"])
    fault.add_argument("rule", nargs="?", help="add: the rule as JSON; remove: its id")
    fault.add_argument("--operation", help="add: match this operationId")
    fault.add_argument("--device", help="add: match this deviceId")
    fault.add_argument("--error", help="add: answer this documented vendor code")
    fault.add_argument("--status", type=int, help="add: answer this bare HTTP status")
    fault.add_argument("--delay", type=int, help="add: delay (ms)")
    fault.add_argument("--drop", action="store_true", help="add: drop the connection")
    fault.add_argument("--count", type=int, help="add: fire at most N times")
    fault.add_argument("--callback", action="store_true", help="add: a callback-delivery rule")

    clock = command("clock", "the sandbox clock: show, advance, set, freeze, release", _clock)
    clock.add_argument("action", choices=["show", "advance", "set", "freeze", "release"])
    clock.add_argument("value", nargs="?", help="advance: seconds, or 90m / 25h; set: ISO time")

    device = command("device", "a device: set its state, take it offline or online", _device)
    device.add_argument("action", choices=["set", "offline", "online", "push"])
    device.add_argument("device_id")
    device.add_argument("value", nargs="?", help="set: a partial status as JSON; push: a code")

    journal = command("journal", "the request journal", _journal)
    journal.add_argument("--operation")
    journal.add_argument("--status", type=int)
    journal.add_argument("--caller")
    journal.add_argument("--violations", action="store_true", help="only calls with violations")
    journal.add_argument("--limit", type=int, default=20)

    callbacks = command("callbacks", "the callback delivery journal", _callbacks)
    callbacks.add_argument("--request-id")
    callbacks.add_argument("--device")
    callbacks.add_argument("--status", choices=["pending", "delivered", "failed"])
    callbacks.add_argument("--limit", type=int, default=20)
    callbacks.add_argument(
        "--bodies", action="store_true", help="print each delivery's body under it (JSON)"
    )

    redeliver = command(
        "redeliver",
        "send a callback delivery again and say how it ended (exit 0 delivered, 1 failed,"
        " 3 still retrying)",
        _redeliver,
    )
    redeliver.add_argument("delivery_id")
    redeliver.add_argument("--to", metavar="URL", help="send it to URL instead (it keeps it)")
    redeliver.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for it to end (default 30; 0: queue it and return)",
    )


@dataclass(frozen=True)
class Ended:
    """What a command found, and the exit status it calls for (0 unless said)."""

    result: Any
    exit_code: int


def _run(run: Any, args: argparse.Namespace) -> int:
    try:
        with httpx.Client(base_url=args.url, timeout=30) as http:
            result = run(http, args)
    except ControlError as exc:
        print(f"lgmock: {exc}", file=sys.stderr)
        return exc.exit_code
    except httpx.HTTPError as exc:
        print(f"lgmock: cannot reach the sandbox at {args.url}: {exc}", file=sys.stderr)
        return 2
    exit_code = 0
    if isinstance(result, Ended):
        result, exit_code = result.result, result.exit_code
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif isinstance(result, str):
        print(result)
    return exit_code


def _call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    answer = http.request(method, f"/_sandbox{path}", **kwargs)
    if answer.status_code >= 400:
        status = str(answer.status_code)
        try:
            error = answer.json()["error"]
            problems = "".join(f"\n  {p}" for p in error.get("problems", []))
            message = f"{error['message']}{problems}"
            status += f" {error['code']}"
        except (ValueError, KeyError, TypeError):
            message = answer.text
        raise ControlError(f"{method} /_sandbox{path} refused ({status}): {message}")
    return answer.json() if answer.content else None


def _health_line(health: dict[str, Any]) -> str:
    return (
        f"scenario {health['scenario'] or '(unnamed)'}, seed {health['seed']}, "
        f"{health['devices']} devices, clock {health['clock']['now']}"
        + (" (frozen)" if health["clock"]["frozen"] else "")
    )


def _reset(http: httpx.Client, args: argparse.Namespace) -> Any:
    health = _call(http, "POST", "/reset")
    return health if args.json else f"reset: {_health_line(health)}"


def _load(http: httpx.Client, args: argparse.Namespace) -> Any:
    try:
        content = args.file.read_bytes()
    except OSError as exc:
        raise ControlError(f"cannot read {args.file}: {exc.strerror}") from exc
    health = _call(
        http, "POST", "/scenario", content=content, headers={"Content-Type": "application/yaml"}
    )
    return health if args.json else f"loaded {args.file}: {_health_line(health)}"


def _state(http: httpx.Client, args: argparse.Namespace) -> Any:
    state = _call(http, "GET", "/state")
    if args.out:
        args.out.write_text(json.dumps(state, indent=2, ensure_ascii=False), encoding="utf-8")
        return {"written": str(args.out)} if args.json else f"state written to {args.out}"
    return state if args.json else json.dumps(state, indent=2, ensure_ascii=False)


def _fault(http: httpx.Client, args: argparse.Namespace) -> Any:
    if args.action == "list":
        rules = _call(http, "GET", "/faults")["items"]
        if args.json:
            return rules
        if not rules:
            return "no fault rules"
        return "\n".join(_rule_line(rule) for rule in rules)
    if args.action == "clear":
        _call(http, "DELETE", "/faults")
        return {"cleared": True} if args.json else "all fault rules removed"
    if args.action == "remove":
        if not args.rule:
            raise ControlError("fault remove needs the rule's id")
        _call(http, "DELETE", f"/faults/{args.rule}")
        return {"removed": args.rule} if args.json else f"removed {args.rule}"
    rule = _rule_from_args(args)
    added = _call(http, "POST", "/faults", json=rule)
    return added if args.json else f"added {_rule_line(added)}"


def _rule_line(rule: dict[str, Any]) -> str:
    """``fault-1: request {"operationId": "getDevices"} -> {"error": "4304"} (fired 0 of 1)``"""
    match = json.dumps(rule["match"]) if rule["match"] else "every call"
    if rule["target"] == "callback" and not rule["match"]:
        match = "every delivery"
    fired = f"fired {rule['fired']}" + (f" of {rule['count']}" if rule["count"] else ", no limit")
    chance = f", probability {rule['probability']}" if rule.get("probability", 1) < 1 else ""
    return (
        f"{rule['id']}: {rule['target']} {match} -> {json.dumps(rule['effect'])} ({fired}{chance})"
    )


def _rule_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.rule:
        try:
            return json.loads(args.rule)
        except ValueError as exc:
            raise ControlError(f"the rule is not JSON: {exc}") from exc
    match = {k: v for k, v in (("operationId", args.operation), ("deviceId", args.device)) if v}
    effects = {
        "error": args.error,
        "status": args.status,
        "delay": args.delay,
        "drop": True if args.drop else None,
    }
    effect = {k: v for k, v in effects.items() if v is not None}
    if len(effect) != 1:
        raise ControlError("give exactly one effect: --error, --status, --delay or --drop")
    rule: dict[str, Any] = {"match": match, "effect": effect}
    if args.callback:
        rule["target"] = "callback"
    if args.count:
        rule["count"] = args.count
    return rule


def _clock(http: httpx.Client, args: argparse.Namespace) -> Any:
    if args.action == "show":
        clock = _call(http, "GET", "/clock")
    else:
        body: dict[str, Any] = {
            "advance": lambda: {"advance": _seconds(args.value)},
            "set": lambda: {"set": args.value},
            "freeze": lambda: {"freeze": True},
            "release": lambda: {"freeze": False},
        }[args.action]()
        if args.action in ("advance", "set") and not args.value:
            raise ControlError(f"clock {args.action} needs a value")
        clock = _call(http, "POST", "/clock", json=body)
    return clock if args.json else f"{clock['now']}" + (" (frozen)" if clock["frozen"] else "")


def _seconds(value: str | None) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = (value or "").strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError as exc:
        raise ControlError(f"{value!r} is not a duration (e.g. 90, 90s, 15m, 25h)") from exc


def _device(http: httpx.Client, args: argparse.Namespace) -> Any:
    path = f"/devices/{args.device_id}"
    if args.action in ("offline", "online"):
        result = _call(http, "PATCH", path, json={"online": args.action == "online"})
        return result if args.json else f"{args.device_id} is {args.action}"
    if args.action == "push":
        result = _call(http, "POST", f"{path}/push", json={"code": args.value})
        return result if args.json else f"{args.device_id} raised {args.value}"
    try:
        change = json.loads(args.value or "")
    except ValueError as exc:
        raise ControlError(f"device set needs a partial status as JSON: {exc}") from exc
    status = _call(http, "PATCH", f"{path}/state", json=change)
    return status if args.json else json.dumps(status, indent=2, ensure_ascii=False)


def _journal(http: httpx.Client, args: argparse.Namespace) -> Any:
    params = {
        "operationId": args.operation,
        "status": args.status,
        "caller": args.caller,
        "violations": "true" if args.violations else None,
        "limit": args.limit,
    }
    page = _call(http, "GET", "/journal", params={k: v for k, v in params.items() if v})
    if args.json:
        return page
    lines = [f"{page['total']} calls (newest first)"]
    for entry in page["items"]:
        request = entry["request"]
        lines.append(
            f"#{entry['id']} {entry['at']} {entry['caller'] or '-'} {request['method']} "
            f"{request['path']} [{entry['operationId'] or '?'}] -> {entry['response']['status']}"
            f" {entry['response']['code'] or ''}"
            + (f" fault={entry['fault']}" if entry["fault"] else "")
        )
        lines += [
            f"    violation {v['code']} {v['field']}: {v['message']}" for v in entry["violations"]
        ]
    return "\n".join(lines)


def _callbacks(http: httpx.Client, args: argparse.Namespace) -> Any:
    params = {
        "requestId": args.request_id,
        "deviceId": args.device,
        "status": args.status,
        "limit": args.limit,
    }
    page = _call(http, "GET", "/callbacks", params={k: v for k, v in params.items() if v})
    if args.json:
        return page
    lines = [f"{page['total']} deliveries (newest first)"]
    for item in page["items"]:
        last = item["attempts"][-1]["outcome"] if item["attempts"] else "not tried yet"
        lines.append(
            f"{item['id']} {item['status']} {item['kind']} device={item['deviceId']} "
            f"-> {item['url']} ({len(item['attempts'])} attempts, last: {last})"
        )
        if args.bodies:
            lines.append(f"  {json.dumps(item['body'], ensure_ascii=False)}")
    return "\n".join(lines)


STILL_RETRYING = 3  # exit status: the delivery had not ended when --wait ran out


def _redeliver(http: httpx.Client, args: argparse.Namespace) -> Any:
    body = {"url": args.to} if args.to else None
    item = _call(http, "POST", f"/callbacks/{args.delivery_id}/redeliver", json=body)
    if args.wait <= 0:
        return item if args.json else f"{item['id']} queued again to {item['url']}"
    made = len(item["attempts"])  # attempts before this redelivery
    deadline = time.monotonic() + args.wait
    while item["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        item = _call(http, "GET", f"/callbacks/{args.delivery_id}")
    new = item["attempts"][made:]
    last = new[-1] if new else None
    where = f"{item['id']} to {item['url']}"
    if item["status"] == "delivered":
        line = f"{where}: delivered (HTTP {last['statusCode']})" if last else f"{where}: delivered"
        return Ended(item if args.json else line, 0)
    tried = f"{len(new)} attempt{'s' if len(new) != 1 else ''}"
    outcome = f", last: {last['outcome']}" if last else ""
    if item["status"] == "failed":
        return Ended(item if args.json else f"{where}: failed after {tried}{outcome}", 1)
    line = f"{where}: still retrying after {args.wait:g} s ({tried}{outcome})"
    return Ended(item if args.json else line, STILL_RETRYING)
