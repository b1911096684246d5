"""The ``lgmock`` command: serve the sandbox, lint and build the specs."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lgspecs import data

# The heavy modules (specs, validators, the app) are imported by the commands that use
# them: `lgmock clock show` and the other control commands start in a fraction of a second.
if TYPE_CHECKING:
    from mockserver.backends.sandbox import Sandbox


def build_parser() -> argparse.ArgumentParser:
    """Every `lgmock` command and option (tests check the docs' commands against it)."""
    parser = argparse.ArgumentParser(
        prog="lgmock", description="A local, stateful sandbox of LG's partner cloud APIs."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the sandbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--scenario", type=Path, help="scenario file (default: the built-in one)")
    serve.add_argument("--seed", type=int, help="override the scenario's seed")
    serve.add_argument(
        "--state-file",
        type=Path,
        help="keep the state in the SQLite database FILE: restored at start if it exists, "
        "every acknowledged change committed before its response (docs/durability.md)",
    )
    serve.add_argument(
        "--journal-cap", type=int, default=10_000, help="request journal entries kept (10000)"
    )
    serve.add_argument(
        "--no-mqtt",
        action="store_true",
        help="start no MQTT broker for ThinQ Connect push (docs/home-assistant.md)",
    )
    serve.add_argument("--log-level", default="warning", help="uvicorn log level")
    serve.set_defaults(run=_serve)

    spec = commands.add_parser("spec", help="the Business Connect spec pipeline")
    spec_commands = spec.add_subparsers(dest="spec_command", required=True)
    lint = spec_commands.add_parser("lint", help="print the vendor spec's defects")
    lint.set_defaults(run=_spec_lint)
    build = spec_commands.add_parser("build", help="write the repaired documents to DIR")
    build.add_argument("dir", type=Path)
    build.set_defaults(run=_spec_build)

    from mockserver import control_cli

    _register_plugins(commands)
    control_cli.register(commands)

    scenarios = commands.add_parser(
        "scenario",
        help="check a scenario file (scenario check FILE, or scenario FILE), "
        "or generate a fleet (scenario generate)",
    )
    scenario_commands = scenarios.add_subparsers(dest="scenario_command", required=True)
    check = scenario_commands.add_parser("check", help="check a scenario file without serving it")
    check.add_argument("file", type=Path)
    check.set_defaults(run=_scenario_check)
    generate = scenario_commands.add_parser(
        "generate", help="write a fleet scenario to standard output (same seed, same file)"
    )
    generate.add_argument("--devices", type=int, required=True, help="how many devices")
    generate.add_argument(
        "--types", action="append", help="device types, comma-separated (DEVICE_WASHER or washer)"
    )
    generate.add_argument("--partners", type=int, default=1, help="partners (1)")
    generate.add_argument("--users", type=int, help="users owning the devices (devices/100)")
    generate.add_argument("--country", default="KR", help="users' countries, comma-separated (KR)")
    generate.add_argument("--seed", type=int, default=0, help="the seed (0)")
    generate.add_argument(
        "--format",
        choices=("json", "yaml"),
        default="json",
        help="json: JSON syntax, valid YAML, fast to load (default); yaml: block YAML",
    )
    generate.set_defaults(run=_scenario_generate)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["scenario"] and len(argv) > 1 and argv[1] not in ("check", "generate"):
        if not argv[1].startswith("-"):
            argv.insert(1, "check")  # `lgmock scenario FILE`, as before `generate` came
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


# Command groups other packages add to `lgmock` (the contract kit's `contract`): each
# entry point names a function that adds its subcommands, so the server never imports them.
COMMANDS_GROUP = "lgmock.commands"


def _register_plugins(commands: argparse._SubParsersAction) -> None:
    from importlib.metadata import entry_points

    # No entry point (an install whose metadata predates the group): no kit commands, and
    # argparse names the commands there are. Reinstalling lgmock brings them back.
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        entry.load()(commands)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mockserver import scenario
    from mockserver.app import create_app
    from mockserver.gateway import QuietDrops
    from mockserver.persistence import StateFileError
    from mockserver.runtime import Runtime

    # The port first: a busy one is refused in a line, before anything is loaded or
    # printed, and the socket bound here is the one uvicorn serves (no race to lose).
    try:
        listening = listen(args.host, args.port)
    except OSError as exc:
        print(
            f"lgmock: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            + (" (another lgmock? choose another --port)" if exc.errno == errno.EADDRINUSE else ""),
            file=sys.stderr,
        )
        return 3
    port = listening.getsockname()[1]  # --port 0 picks a free one
    path = args.scenario or data.default_scenario()
    try:
        if args.state_file:
            restoring = args.state_file.exists()
            runtime = Runtime.with_state_file(
                args.state_file, path, seed=args.seed, journal_cap=args.journal_cap
            )
            if restoring:
                print(f"lgmock: state restored from {args.state_file}", flush=True)
        else:
            runtime = Runtime.from_file(path, seed=args.seed, journal_cap=args.journal_cap)
    except scenario.ScenarioError as exc:
        listening.close()
        print(f"lgmock: scenario refused, not starting:\n{exc}", file=sys.stderr)
        return 2
    except StateFileError as exc:
        listening.close()
        print(
            f"lgmock: state file refused, not starting (it was left untouched):\n{exc}",
            file=sys.stderr,
        )
        return 2
    from mockserver.mqtt.channel import open_channel

    channel = open_channel(args.state_file, broker=not args.no_mqtt)
    runtime.set_push_channel(channel)
    print(banner(runtime.sandbox, args.host, port), flush=True)
    logging.getLogger("uvicorn.error").addFilter(QuietDrops())
    # uvicorn formats each access-log line before the logger drops it: off unless shown.
    access_log = args.log_level.lower() in ("info", "debug", "trace")
    config = uvicorn.Config(
        create_app(runtime),
        host=args.host,
        port=port,
        log_level=args.log_level,
        access_log=access_log,
    )
    try:
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        channel.stop()  # stopped at lifespan shutdown already, unless start-up failed
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, as uvicorn would bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def banner(sandbox: Sandbox, host: str, port: int) -> str:
    """What a newcomer needs for a first call: where each API is, who to be, and where
    callbacks go (the default scenario's receiver port may not be theirs)."""
    base = f"http://{host}:{port}"
    lines = [
        f"lgmock sandbox: scenario {sandbox.name or '(unnamed)'}, seed {sandbox.seed}, "
        f"{len(sandbox.devices.devices)} devices",
        f"  Business Connect   {base}/bc/v1/...              Swagger UI {base}/bc/ui/",
        f"  ThinQ asynchronous {base}/v2/devices/*-async     Swagger UI {base}/v2/ui/",
        f"  ThinQ Connect      {base}/connect/...            Swagger UI {base}/connect/ui/",
        f"  Sandbox control    {base}/_sandbox/...           Swagger UI {base}/_sandbox/ui/",
        f"  Dashboard          {base}/_dashboard/",
    ]
    accounts = sandbox.accounts
    partner = next(iter(accounts.partners.values()), None)
    if partner:
        lines.append(
            f"  Partner {partner.partner_id}: X-Api-Key {partner.api_key}  "
            f"X-Api-Secret {partner.api_secret}"
        )
    for service in accounts.services.values():
        lines.append(
            f"  ThinQ service: x-service-id {service.service_id}  "
            f"x-service-key {service.service_key}"
        )
    for user in accounts.users.values():
        lines.append(
            f"  User {user.user_number} ({user.country_code}): "
            f"Authorization: Bearer {user.access_token}"
        )
    pat_user = next((user for user in accounts.users.values() if user.pat), None)
    if pat_user:
        from mockserver.backends.connect import SDK_API_KEY

        # What LG's thinqconnect SDK needs: its base URL, the user's PAT, the SDK's key.
        lines.append(
            f"  ThinQ Connect (LG's SDK) as {pat_user.user_number} ({pat_user.country_code}): "
            f"base URL {base}/connect  Authorization: Bearer {pat_user.pat}  "
            f"x-api-key {SDK_API_KEY}"
        )
    lines += _callback_lines(sandbox, base)
    lines += _push_channel_lines(sandbox, base)
    if partner:
        lines += [
            "  First call:",
            f"    curl -s -X POST {base}/bc/v1/token "
            f"-H 'X-Api-Key: {partner.api_key}' -H 'X-Api-Secret: {partner.api_secret}'",
        ]
    return "\n".join(lines)


def _push_channel_lines(sandbox: Sandbox, base: str) -> list[str]:
    from mockserver.mqtt.channel import PushChannel

    channel = sandbox.connect.push_channel
    if not isinstance(channel, PushChannel):
        return []
    if channel.broker is None:
        return [f"  ThinQ Connect push over MQTT is off: {channel.off}"]
    return [
        f"  ThinQ Connect push  {channel.route_url} (mutual TLS; CA {base}/_sandbox/mqtt/ca.pem)"
    ]


def _callback_lines(sandbox: Sandbox, base: str) -> list[str]:
    """Each callback URL, and whether anything listens there right now."""
    # A service or partner without one: its callbacks go to this sandbox's own inbox.
    targets = [
        (f"ThinQ service {s.service_id}", s.callback_url)
        for s in sandbox.accounts.services.values()
    ] + [(f"partner {p.partner_id}", p.callback_url) for p in sandbox.accounts.partners.values()]
    if not targets:
        return []
    lines = ["  Callbacks go to:"]
    shown = 5  # a generated fleet may have hundreds of partners
    for who, url in targets[:shown]:
        if not url:
            lines.append(f"    {who}: this sandbox's inbox")
            continue
        up = _listening(url)
        lines.append(f"    {who}: {url}" + ("  (nothing listens there now)" if up is False else ""))
    if len(targets) > shown:
        lines.append(f"    ... and {len(targets) - shown} more (GET {base}/_sandbox/state)")
    if any(not url for _, url in targets):
        lines.append(f"    read the inbox: GET {base}/_sandbox/inbox  (or lgmock callbacks)")
    lines.append(f"    to receive them on a receiver of yours: lgmock receiver --register {base}")
    return lines


def _listening(url: str) -> bool | None:
    """Whether a loopback URL has a listener; None (not asked) for any other host, so a
    start never waits on DNS or a remote network."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not (host == "localhost" or host == "::1" or host.startswith("127.")):
        return None
    try:
        with socket.create_connection((host, parts.port or 80), timeout=0.2):
            return True
    except OSError:
        return False


def _spec_lint(_args: argparse.Namespace) -> int:
    from lgspecs import documents
    from mockserver import speclint

    findings = speclint.lint(documents.vendor_spec())
    for finding in findings:
        print(finding)
    counts = Counter(f.kind for f in findings)
    print(f"\n{len(findings)} findings: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))
    left = speclint.lint(documents.repaired_spec())
    print(f"after business-connect.overlay.yaml: {len(left)} findings")
    for finding in left:
        print(f"  {finding}")
    return 0


def _spec_build(args: argparse.Namespace) -> int:
    from lgspecs import documents

    for path in documents.build(args.dir):
        print(path)
    return 0


def _scenario_check(args: argparse.Namespace) -> int:
    from mockserver import scenario

    try:
        sandbox = scenario.load(scenario.read_file(args.file), str(args.file))
    except scenario.ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{args.file}: ok ({len(sandbox.devices.devices)} devices)")
    return 0


def _scenario_generate(args: argparse.Namespace) -> int:
    from mockserver import generator

    try:
        document = generator.generate(
            args.devices,
            types=generator.resolve_types(args.types),
            partners=args.partners,
            users=args.users,
            countries=tuple(c.strip().upper() for c in args.country.split(",") if c.strip()),
            seed=args.seed,
        )
    except generator.GeneratorError as exc:
        print(f"lgmock scenario generate: {exc}", file=sys.stderr)
        return 2
    for piece in generator.write(document, args.format):
        sys.stdout.write(piece)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
