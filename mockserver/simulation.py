"""Time-driven device behaviour on the sandbox clock (appliance cycles, temperature drift).

Placeholder: ``attach`` is called for every new sandbox and registers tickers with
``sandbox.on_tick``; nothing is simulated yet.
"""

from __future__ import annotations

from mockserver.backends.sandbox import Sandbox


def attach(sandbox: Sandbox) -> None:
    """Register this module's tickers on ``sandbox``."""
