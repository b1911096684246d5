"""How the sandbox delivers callbacks: attempts, backoff, timeouts, concurrency, how
many deliveries it keeps.

Plain data, set by a scenario's ``delivery:`` block and held by the ``Sandbox``; the
delivery engine (``callbacks.py``) reads it. A module of its own so the sandbox's state
does not import the engine (and aiohttp) to name its settings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeliverySettings:
    attempts: int = 5
    backoff_initial: float = 0.2  # seconds before the first retry; doubles each time
    backoff_max: float = 5.0
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    concurrency: int = 64  # lanes delivered at once (fixed when the engine starts)
    journal_cap: int = 100_000  # deliveries kept; the oldest finished ones go first
