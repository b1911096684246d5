"""The ``lgmock`` command: serve the sandbox, lint and build the specs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

from mockserver import paths, scenario, speclint, specs
from mockserver.backends.sandbox import Sandbox


def main(argv: list[str] | None = None) -> int:
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
        help="restore the whole state from FILE if it exists; write it there on exit "
        "(SIGTERM, SIGINT) and every few seconds",
    )
    serve.add_argument(
        "--journal-cap", type=int, default=10_000, help="request journal entries kept (10000)"
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

    receiver = commands.add_parser(
        "receiver", help="run a callback receiver that prints what the sandbox delivers"
    )
    receiver.add_argument("--host", default="127.0.0.1")
    receiver.add_argument("--port", type=int, default=9000)
    receiver.add_argument("--quiet", action="store_true", help="print nothing per callback")
    receiver.set_defaults(run=_receiver)

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

    found = entry_points(group=COMMANDS_GROUP)
    if not found:
        # An install made before the group existed (reinstall to refresh its metadata):
        # the kit ships in this same distribution, so its declared entry is still right.
        from contract_tests.cli import register

        register(commands)
        return
    for entry in sorted(found, key=lambda e: e.name):
        entry.load()(commands)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mockserver.app import create_app
    from mockserver.gateway import QuietDrops
    from mockserver.persistence import StateFileError
    from mockserver.runtime import Runtime

    path = args.scenario or paths.default_scenario()
    try:
        if args.state_file and args.state_file.exists():
            runtime = Runtime.from_state_file(args.state_file, journal_cap=args.journal_cap)
            print(f"lgmock: state restored from {args.state_file}", flush=True)
        else:
            runtime = Runtime.from_file(path, seed=args.seed, journal_cap=args.journal_cap)
    except scenario.ScenarioError as exc:
        print(f"lgmock: scenario refused, not starting:\n{exc}", file=sys.stderr)
        return 2
    except StateFileError as exc:
        print(
            f"lgmock: state file refused, not starting (it was left untouched):\n{exc}",
            file=sys.stderr,
        )
        return 2
    runtime.state_file = args.state_file
    print(banner(runtime.sandbox, args.host, args.port), flush=True)
    logging.getLogger("uvicorn.error").addFilter(QuietDrops())
    uvicorn.run(create_app(runtime), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def banner(sandbox: Sandbox, host: str, port: int) -> str:
    base = f"http://{host}:{port}"
    lines = [
        f"lgmock sandbox: scenario {sandbox.name or '(unnamed)'}, seed {sandbox.seed}, "
        f"{len(sandbox.devices.devices)} devices",
        f"  Business Connect  {base}/bc/v1/...      (Swagger UI {base}/bc/ui/)",
        f"  Sandbox control   {base}/_sandbox/...   (Swagger UI {base}/_sandbox/ui/)",
        f"  Dashboard         {base}/_dashboard/",
    ]
    partner = next(iter(sandbox.accounts.partners.values()), None)
    if partner:
        lines += [
            f"  Partner {partner.partner_id}: X-Api-Key {partner.api_key}  "
            f"X-Api-Secret {partner.api_secret}",
            "  First call:",
            f"    curl -s -X POST {base}/bc/v1/token "
            f"-H 'X-Api-Key: {partner.api_key}' -H 'X-Api-Secret: {partner.api_secret}'",
        ]
    for user in sandbox.accounts.users.values():
        lines.append(
            f"  User {user.user_number} ({user.country_code}): "
            f"Authorization: Bearer {user.access_token}"
        )
    return "\n".join(lines)


def _receiver(args: argparse.Namespace) -> int:
    import json

    from contract_tests.receiver import CallbackReceiver, Received, push_type

    def show(received: Received) -> None:
        body = received.body
        inner = body.get("response", body) if isinstance(body, dict) else {}
        print(
            f"{received.path} {push_type(body)} device={inner.get('deviceId')} "
            f"requestId={body.get('requestId') if isinstance(body, dict) else None}\n"
            f"  {json.dumps(body, ensure_ascii=False)[:400]}",
            flush=True,
        )

    receiver = CallbackReceiver(args.host, args.port)
    print(f"lgmock receiver on {receiver.url} (GET it for a summary); Ctrl-C to stop", flush=True)
    receiver.serve_forever(None if args.quiet else show)
    return 0


def _spec_lint(_args: argparse.Namespace) -> int:
    findings = speclint.lint(specs.vendor_spec())
    for finding in findings:
        print(finding)
    counts = Counter(f.kind for f in findings)
    print(f"\n{len(findings)} findings: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))
    left = speclint.lint(specs.repaired_spec())
    print(f"after business-connect.overlay.yaml: {len(left)} findings")
    for finding in left:
        print(f"  {finding}")
    return 0


def _spec_build(args: argparse.Namespace) -> int:
    for path in specs.build(args.dir):
        print(path)
    return 0


def _scenario_check(args: argparse.Namespace) -> int:
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
