"""`lgmock record`: the recording proxy's command (registered with the kit's commands).

Exit status: 0 when the drift found is within ``--max-drift``, 1 when it is not, 2 when
the proxy could not start as configured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

API_CHOICES = ("all", "bc", "thinq", "connect")


def register(commands: argparse._SubParsersAction) -> None:
    record = commands.add_parser(
        "record",
        help="a proxy to LG that reports drift from the specs and records a scenario",
        description=(
            "Point your client at this proxy instead of LG. Every call is forwarded "
            "unchanged to --upstream; every answer is checked against the spec of its API "
            "(drift: printed live, written to --drift) and learned into a scenario "
            "(--out) that `lgmock serve --scenario` serves. Credentials are forwarded, "
            "never written. Stop it with Ctrl-C (or SIGTERM): then it writes the files."
        ),
    )
    record.add_argument(
        "--upstream", required=True, help="where calls go, e.g. https://ap-test.api.lge.com"
    )
    record.add_argument(
        "--api",
        choices=API_CHOICES,
        default="all",
        help="whose spec judges the answers: bc, thinq, connect; all (default) tells them "
        "apart by path (/bc, /v2, /connect)",
    )
    record.add_argument(
        "--port", type=int, required=True, help="where the proxy listens (0: any free port)"
    )
    record.add_argument("--host", default="127.0.0.1", help="the proxy's address (127.0.0.1)")
    record.add_argument("--out", type=Path, required=True, help="the scenario to write (YAML)")
    record.add_argument(
        "--drift",
        type=Path,
        metavar="FILE",
        help="write the drift findings to FILE (JSON), FILE's .md (Markdown) and .xml (JUnit XML)",
    )
    record.add_argument(
        "--max-drift", type=int, default=0, metavar="N", help="exit 1 above N findings (default 0)"
    )
    record.add_argument(
        "--callbacks-via",
        metavar="URL",
        help="your callback receiver: ThinQ callbacks are received by the proxy, checked, "
        "learned and relayed to URL",
    )
    record.add_argument(
        "--callback-url",
        metavar="URL",
        help="the URL the upstream reaches the proxy's callback receiver by (a tunnel); "
        "default http://HOST:PORT/_record/callbacks/thinq",
    )
    record.add_argument(
        "--request-timeout", type=float, default=60.0, help="seconds per upstream call (60)"
    )
    record.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from contract_tests.record.drift import recordable_apis
    from contract_tests.record.proxy import RecordOptions, serve

    available = recordable_apis()
    if args.api == "all":
        apis = available
    elif args.api in available:
        apis = (args.api,)
    else:
        return _refuse(
            f"--api {args.api}: this installation has no {args.api} spec; "
            f"choose from {', '.join(available)}"
        )
    if not args.upstream.startswith(("http://", "https://")):
        return _refuse(f"--upstream {args.upstream}: give an http:// or https:// URL")
    options = RecordOptions(
        upstream=args.upstream,
        out=args.out,
        apis=apis,
        port=args.port,
        host=args.host,
        drift=args.drift,
        max_drift=args.max_drift,
        callbacks_via=args.callbacks_via,
        callback_url=args.callback_url,
        request_timeout=args.request_timeout,
    )
    try:
        return serve(options, _emit)
    except OSError as exc:
        return _refuse(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")


def _emit(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:
        pass


def _refuse(message: str) -> int:
    print(f"lgmock record: {message}", file=sys.stderr)
    return 2
