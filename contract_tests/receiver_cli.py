"""`lgmock receiver`: a callback receiver that prints what a sandbox delivers.

The kit's command (it is the kit's receiver, and `--register` drives a sandbox through
the kit's ``Sandbox``), added to `lgmock` by the kit's `lgmock.commands` entry point, so
the server never imports the kit.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any


def register(commands: argparse._SubParsersAction) -> None:
    receiver = commands.add_parser(
        "receiver", help="run a callback receiver that prints what the sandbox delivers"
    )
    receiver.add_argument("--host", default="127.0.0.1")
    receiver.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: a free one, printed)"
    )
    receiver.add_argument("--quiet", action="store_true", help="print nothing per callback")
    receiver.add_argument(
        "--register",
        metavar="SANDBOX_URL",
        help="point every service's and partner's callbackUrl of that running sandbox here "
        "(each given back as it was on Ctrl-C or SIGTERM: its URL, or the sandbox's inbox)",
    )
    receiver.set_defaults(run=_receiver)


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

    try:
        # A busy port is refused in a line; port 0 becomes the free one the kernel picks.
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        with socket.create_server((args.host, args.port), family=family) as probe:
            args.port = probe.getsockname()[1]
    except OSError as exc:
        print(f"lgmock: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 3
    if args.register:
        return _registered_receiver(args, show)
    receiver = CallbackReceiver(args.host, args.port)
    print(f"lgmock receiver on {receiver.url} (GET it for a summary); Ctrl-C to stop", flush=True)
    receiver.serve_forever(None if args.quiet else show)
    return 0


def _registered_receiver(args: argparse.Namespace, show: Any) -> int:
    """``lgmock receiver --register URL``: the sandbox's callback URLs point here while
    it runs (ThinQ callbacks under /thinq, Business Connect messages under /bc), and are
    given back when it stops (Ctrl-C or SIGTERM)."""
    import signal
    import threading

    from contract_tests.sandbox import Sandbox, SandboxReceiver

    sandbox = Sandbox.detect(args.register)
    if sandbox is None:
        print(f"lgmock: no lgmock sandbox answers at {args.register}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # Served from a thread so that this one owns the signals and can give the URLs back.
    receiver = SandboxReceiver(args.host, args.port).start(on_receive=None if args.quiet else show)
    try:
        receiver.attach(sandbox)
        print(
            f"lgmock receiver on {receiver.url}, registered with {sandbox.base_url}:\n"
            f"  ThinQ callbacks           -> {receiver.thinq_url}\n"
            f"  Business Connect messages -> {receiver.bc_url}\n"
            "  (a reset or scenario load puts back the scenario's URLs: run this again)\n"
            "  Ctrl-C to stop",
            flush=True,
        )
        stop.wait()
    finally:
        try:
            receiver.detach()
            print(f"lgmock receiver: {sandbox.base_url}'s callback URLs given back", flush=True)
        finally:
            receiver.stop()
            sandbox.close()
    return 0
