"""Each sandbox's broker gets a loopback address of its own, 127.0.X.Y.

LG's SDK drops the port of the ``mqttServer`` that ``GET /route`` names and connects to
a fixed one (443 with ALPN where awscrt has ALPN, which is Linux, macOS and Windows,
else 8883), so two sandboxes on one host cannot share an address: the second would
deliver into the first's clients. Linux routes the whole of 127.0.0.0/8 to the loopback
interface, so there are thousands to choose from.

A claim is an exclusive ``flock`` on a file named after the address, held for as long
as the server runs and released by the kernel when it exits (even on ``kill -9``): two
lgmock processes, whatever started them (parallel test workers, several users), never
hold the same address. An address whose ports something else already holds is skipped.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MQTT_PORT = 8883
ALPN_PORT = 443  # where awscrt connects when it can offer ALPN "x-amzn-mqtt-ca"
FIRST = 2  # 127.0.0.1 is everyone's; start after it
LAST = 0x00FFFE  # 127.0.255.254
LOCKS = Path(tempfile.gettempdir()) / "lgmock-mqtt-addresses"
# After a restart, the last run's broker may still be saving its state as it stops
# (it is sent SIGTERM when lgmock dies): wait this long for its address to come free.
PREFERRED_WAIT = 3.0


class NoAddress(RuntimeError):
    """No loopback address is free (or this system routes only 127.0.0.1)."""


@dataclass
class Claim:
    address: str
    ports: tuple[int, ...]  # the ports that were free on it (443 needs privileges)
    _lock: int

    def release(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)  # closing the descriptor drops the flock
            self._lock = -1


def _candidates(preferred: str | None) -> Iterator[str]:
    if preferred:
        yield preferred
    for number in range(FIRST, LAST + 1):
        yield f"127.0.{number >> 8}.{number & 0xFF}"


def _free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _bindable_at_all(port: int) -> bool:
    """Whether this process may bind a privileged port anywhere (root, or a lowered
    net.ipv4.ip_unprivileged_port_start, or CAP_NET_BIND_SERVICE)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 0 if port >= 1024 else port))
        except PermissionError:
            return False
        except OSError:
            return True  # in use, which means bindable
    return True


def claim(preferred: str | None = None, *, limit: int = 4096) -> Claim:
    """Claim a free loopback address (``preferred`` first: the last run's, from a state
    file, so that clients connect to the same place after a restart)."""
    LOCKS.mkdir(parents=True, exist_ok=True)
    wanted = (MQTT_PORT, ALPN_PORT) if _bindable_at_all(ALPN_PORT) else (MQTT_PORT,)
    for tried, address in enumerate(_candidates(preferred)):
        if tried >= limit:
            break
        descriptor = os.open(LOCKS / address, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            continue  # another lgmock holds it
        deadline = time.monotonic() + (PREFERRED_WAIT if address == preferred else 0)
        while True:
            if all(_free(address, port) for port in wanted):
                return Claim(address, wanted, descriptor)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        os.close(descriptor)
    raise NoAddress(
        f"no free loopback address among the first {limit} of 127.0.0.0/8 "
        f"(ports {', '.join(map(str, wanted))})"
    )
