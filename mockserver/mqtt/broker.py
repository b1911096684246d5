"""The MQTT broker beside the sandbox: Debian's (or any) ``mosquitto``, started and
stopped by lgmock.

Why mosquitto (README, "Why each dependency is here"): it is the reference broker,
maintained, packaged everywhere; it enforces what AWS IoT Core does for ThinQ Connect
at the TLS handshake (a client certificate signed by the sandbox's authority, or no
connection), lets each client read only its own topic (the certificate's subject is its
user name, ``use_identity_as_username``), keeps persistent sessions (``clean_session``
false, QoS 1 queued while a client is away), and runs in a process of its own, so a
burst of messages never takes the HTTP server's event loop.

Its configuration, keys and persistence file live in one folder: the state file's
``FILE.mqtt`` with ``--state-file`` (the queued messages survive a restart), else a
temporary one removed at stop.
"""

from __future__ import annotations

import ctypes
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from mockserver.mqtt.addresses import MQTT_PORT, Claim
from mockserver.mqtt.authority import PUBLISHER, Authority

log = logging.getLogger("lgmock.mqtt")

MOSQUITTO = "mosquitto"
START_TIMEOUT = 10.0  # seconds for mosquitto to listen
MAX_QUEUED = 10_000  # QoS 1 messages kept per away client (mosquitto's default: 1,000)


PR_SET_PDEATHSIG = 1
# Looked up before any fork: the child between fork and exec only calls it.
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when lgmock dies, even by ``kill -9`` (Linux;
    elsewhere a killed lgmock leaves its broker running, to be stopped by hand)."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class BrokerError(RuntimeError):
    """The broker could not be started; the message says why."""


def find_mosquitto() -> str | None:
    """The mosquitto executable, or None (Debian puts it in /usr/sbin, often off PATH)."""
    found = shutil.which(MOSQUITTO)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"):
        candidate = Path(folder) / MOSQUITTO
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _config(folder: Path, claim: Claim) -> str:
    lines = [
        # Started as root, mosquitto would switch to user "mosquitto", which can
        # neither read this folder nor bind port 443: stay who lgmock is.
        f"user {getpass.getuser()}",
        "per_listener_settings false",
        "allow_anonymous false",
        "persistence true",
        f"persistence_location {folder}/",
        "autosave_interval 1",
        f"max_queued_messages {MAX_QUEUED}",
        f"acl_file {folder / 'acl'}",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "connection_messages false",
    ]
    for port in claim.ports:
        lines += [
            f"listener {port} {claim.address}",
            f"cafile {folder / 'ca.pem'}",
            f"certfile {folder / 'broker.pem'}",
            f"keyfile {folder / 'broker.key'}",
            "require_certificate true",
            "use_identity_as_username true",
        ]
    return "\n".join(lines) + "\n"


# The publisher (the sandbox) writes everywhere; a client reads its own topic only.
ACL = f"""user {PUBLISHER}
topic write app/clients/#

pattern read app/clients/%u/push
"""


class Broker:
    """One running mosquitto on a claimed address."""

    def __init__(self, folder: Path, claim: Claim, authority: Authority) -> None:
        self.folder = folder
        self.claim = claim
        self.authority = authority
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.claim.address

    @property
    def port(self) -> int:
        return MQTT_PORT

    def start(self, executable: str) -> None:
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        server = self.authority.server_credentials(self.address)
        (folder / "ca.pem").write_bytes(self.authority.ca_pem)
        (folder / "broker.pem").write_bytes(server.cert_pem)
        key = folder / "broker.key"
        key.touch(mode=0o600)
        key.write_bytes(server.key_pem)
        (folder / "acl").write_text(ACL)
        (folder / "mosquitto.conf").write_text(_config(folder, self.claim))
        log_path = folder / "mosquitto.log"
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [executable, "-c", str(folder / "mosquitto.conf")],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                # Its own process group: a Ctrl-C in lgmock's terminal reaches lgmock,
                # which stops the broker in order (after the last publish).
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with {self.process.returncode}: "
                    + log_path.read_text(errors="replace")[-800:]
                )
            if _listening(self.address, MQTT_PORT):
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.address}:{MQTT_PORT} in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # mosquitto saves its persistence file on SIGTERM
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.2):
            return True
    except OSError:
        return False
