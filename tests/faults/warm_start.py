"""A warm parent that forks ``lgmock serve`` processes, so 100 restarts cost seconds.

Why: a cold ``lgmock serve`` spends most of its start importing its libraries and having
connexion check its OpenAPI documents against the OpenAPI meta-schema (six checks of the
same three documents, 70% of a start: 2-8 s on 2 shared cores). The crash test restarts
the server 100 times; what it tests is what a restart does with the state file, not
those imports. This parent imports lgmock once, and remembers which documents passed
connexion's check (a cache keyed by the whole document: the same input, the same answer).
Then, for each start, it forks a child that runs ``mockserver.cli.main(["serve", ...])``:
the real start path of a real process (state file read and checked, sandbox restored,
app built, deliveries resumed, uvicorn on a socket), killed with a real SIGKILL.

Protocol, one JSON object per line: the parent reads ``{"argv": [...], "log": PATH,
"cwd": PATH}`` on stdin and answers ``{"pid": N}`` on stdout. Children are reaped by the
kernel (SIGCHLD ignored). Run as ``python -m tests.faults.warm_start`` from the repo.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import traceback
from typing import Any

import connexion.spec
import orjson

import mockserver.app
import mockserver.cli
from lgspecs.data import default_scenario
from mockserver.runtime import Runtime

_checked: set[str] = set()
_validate = connexion.spec.Specification._validate_spec.__func__  # type: ignore[attr-defined]


def _validate_once(cls: Any, spec: dict[str, Any]) -> None:
    key = hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
    if key not in _checked:
        _validate(cls, spec)  # raises on an invalid document: never cached
        _checked.add(key)


def warm() -> None:
    connexion.spec.Specification._validate_spec = classmethod(_validate_once)  # type: ignore
    mockserver.app.create_app(Runtime.from_file(default_scenario()))


def serve(request: dict[str, Any]) -> int:
    """Fork one ``lgmock serve``; its pid."""
    # A fork copies one thread only: with another running, the child could inherit a
    # lock held by it. Nothing here starts one (no loop, no state file, no journal).
    assert threading.active_count() == 1, threading.enumerate()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.chdir(request["cwd"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = mockserver.cli.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    warm()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps({"pid": serve(json.loads(line))}), flush=True)


if __name__ == "__main__":
    main()
