"""Live updates: which open dashboards to wake when the journals change.

The journal and the delivery engine each keep a list of listeners that is empty while
nobody watches. The feed puts one listener on each when the first dashboard connects
and takes them off when the last one leaves, so a sandbox nobody watches pays nothing.

A listener only marks a topic and sets an event: no rendering, no I/O on the request
path. Each watcher then sends at most one event per topic every ``MIN_GAP`` seconds, and
the page fetches what is new, so a burst of thousands of calls costs the dashboard a
couple of page fragments a second, not one message per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from mockserver.runtime import Runtime

JOURNAL = "journal"
CALLBACKS = "callbacks"
MIN_GAP = 1.0  # seconds between two events of one watcher
# A stream ends after this long and the browser reconnects at once (EventSource does):
# uvicorn waits for open responses before it shuts down, and a stream that never ended
# would keep `lgmock serve` from stopping (and writing its state file) on SIGTERM.
STREAM_SECONDS = 5.0
RETRY_MS = 500


class Watcher:
    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.wake = asyncio.Event()

    def mark(self, topic: str) -> None:
        self.topics.add(topic)
        self.wake.set()


class LiveFeed:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.watchers: set[Watcher] = set()

    # Bound once, so the very same objects can be removed from the listener lists.
    def _on_entry(self, _entry: Any) -> None:
        for watcher in self.watchers:
            watcher.mark(JOURNAL)

    def _on_delivery(self, _delivery: Any) -> None:
        for watcher in self.watchers:
            watcher.mark(CALLBACKS)

    def watch(self) -> Watcher:
        watcher = Watcher()
        if not self.watchers:
            self.runtime.journal.listeners.append(self._on_entry)
            self.runtime.deliveries.listeners.append(self._on_delivery)
        self.watchers.add(watcher)
        return watcher

    def leave(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        if not self.watchers:
            _discard(self.runtime.journal.listeners, self._on_entry)
            _discard(self.runtime.deliveries.listeners, self._on_delivery)

    async def stream(self) -> AsyncIterator[str]:
        """Server-sent events for one open page, until STREAM_SECONDS have passed."""
        watcher = self.watch()
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        try:
            # Every (re)connection starts with both topics: the page catches up on
            # whatever happened while it was not connected.
            yield f"retry: {RETRY_MS}\n\n"
            yield _event(JOURNAL) + _event(CALLBACKS)
            while (left := ends - loop.time()) > 0:
                try:
                    await asyncio.wait_for(watcher.wake.wait(), left)
                except TimeoutError:
                    break
                watcher.wake.clear()
                topics, watcher.topics = watcher.topics, set()
                yield "".join(_event(topic) for topic in sorted(topics))
                await asyncio.sleep(MIN_GAP)
        finally:
            self.leave(watcher)


def _event(topic: str) -> str:
    return f"event: {topic}\ndata: {topic}\n\n"


def _discard(listeners: list[Any], listener: Any) -> None:
    while listener in listeners:
        listeners.remove(listener)
