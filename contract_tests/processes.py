"""Child processes of ``lgmock`` (and the tools beside it), started and stopped one way.

The project's one process launcher: the kit's pytest plugin (``sandbox.SandboxProcess``),
the project's own tests (``tests/support.start_server``) and the benchmarks start their
servers here. It imports nothing of the server: it runs the ``lgmock`` command.

- Each child runs in its own process group, so stopping it stops what it started too
  (``npx`` -> ``sh`` -> ``node``); ``stop`` sends SIGTERM, then SIGKILL, each wait
  bounded; ``kill`` is SIGKILL at once (a crash, for durability tests).
- ``lgmock serve`` listens on a port it picks itself (``--port 0``) and is reached at the
  URL its banner prints: no window in which another process could take a port chosen
  here. It is ready when ``GET /_sandbox/health`` answers 200.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from contract_tests.lgapi import KitError

# The banner line that names the Business Connect base URL, which holds the port.
BANNER = re.compile(r"Business Connect\s+(http://[^\s/]+)/bc/v1")


class LaunchError(KitError, RuntimeError):
    """A child process did not start, or did not answer in time; the log is in the text."""


def lgmock_command() -> list[str]:
    """The console script beside this interpreter, else on PATH, else the module."""
    script = Path(sys.executable).with_name("lgmock")
    if script.exists():
        return [str(script)]
    found = shutil.which("lgmock")
    return [found] if found else [sys.executable, "-m", "mockserver.cli"]


class ChildProcess:
    """A command in its own process group, its output in ``log_path``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        with log_path.open("ab") as log:  # a restart of the same server appends
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the group, then SIGKILL if it does not end within ``timeout``."""
        if self.alive():
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if not self._signal_group(sig):
                    break
                try:
                    self.process.wait(timeout=timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._signal_group(signal.SIGKILL)  # a child may linger after its leader

    def kill(self, timeout: float = 15.0) -> None:
        """SIGKILL to the group now, as a crash would; waits for the leader."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=timeout)

    def _signal_group(self, sig: signal.Signals) -> bool:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class ServeProcess(ChildProcess):
    """``lgmock serve ARGS`` on 127.0.0.1, returned once it answers its health check.

    ``port`` 0 (the default) lets the server pick a free port, read back from its
    banner; ``ready_s`` is how long it took from the start to the first healthy answer.
    """

    def __init__(
        self,
        *args: str,
        log_path: Path,
        cwd: Path | None = None,
        port: int = 0,
        wait: float = 30.0,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        started = time.perf_counter()
        program = list(command) if command else lgmock_command()  # e.g. a wrapper of lgmock
        argv = [*program, "serve", "--host", "127.0.0.1", "--port", str(port), *args]
        super().__init__(argv, log_path=log_path, cwd=cwd, env=env)
        self.base_url = f"http://127.0.0.1:{port}" if port else ""
        self._wait_until_up(wait)
        self.ready_s = time.perf_counter() - started

    def _wait_until_up(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.alive():
                raise LaunchError(
                    f"lgmock serve exited with {self.process.returncode}:\n{self.log()}"
                )
            if not self.base_url:
                banner = BANNER.search(self.log())
                self.base_url = banner.group(1) if banner else ""
            if self.base_url:
                try:
                    if httpx.get(f"{self.base_url}/_sandbox/health", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)  # a start is timed by it (bench_scale.py's ready_s)
        self.stop()
        raise LaunchError(f"lgmock serve did not answer within {wait:g} s:\n{self.log()}")
