"""Work a call leaves for after its answer: the one home of "answer now, do the rest in
parts".

A fan-out over a fleet (ThinQ asynchronous calls over 100,000 devices, a DR window
opening over a fleet, a fleet's data zip) answers first and goes on in parts on the
server's loop, other requests served in between (docs/scale.md). The code that knows
the work (a backend, or a handler composing a backend with the delivery engine) writes
it as a generator of ``Parts``: each ``yield`` ends one part; ``yield InThread(f)`` runs
``f`` in a thread (CPU work that holds no state of the loop, like deflating a zip) and
sends its result back into the generator.

``AfterAnswer.start`` runs such parts:

- **after the answer**, one part per turn of the loop, keeping a reference to each task
  (the loop holds tasks only weakly) and logging the failure of one (it is a bug);
- **inline, before the answer, with a state file**: the answer is committed first, and a
  crash right after it must not lose the rest (docs/durability.md);
- **stopped when the sandbox is replaced** (reset, scenario load): the work belonged to
  the old state, whose deliveries were dropped too (``stop_all``, called by ``Runtime``);
- **cancelled at shutdown** (``stop_all`` from the lifespan's shutdown).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("lgmock")


@dataclass(frozen=True)
class InThread:
    """A step of the work run in a thread; its result is sent back to the generator."""

    work: Callable[[], Any]


# What a part yields: None (a part done: let other requests in), or an InThread step.
Parts = Generator[InThread | None, Any, None]


class AfterAnswer:
    """Runs parts after the answer (or inline with a state file); see the module doc."""

    def __init__(self, inline: Callable[[], bool]) -> None:
        self._inline = inline  # whether work must be done before the answer (state file)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def inline(self) -> bool:
        return self._inline()

    def start(self, what: str, parts: Parts) -> None:
        """Run ``parts``: now, to the end, with a state file; else after the answer.

        ``what`` names the work in the log should it fail ("data zip x.zip").
        """
        if self._inline():
            _drain(parts)
            return
        task = asyncio.get_running_loop().create_task(self._run(what, parts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def pending(self) -> int:
        """How many works are under way."""
        return len(self._tasks)

    def stop_all(self) -> None:
        """Cancel every work under way (the sandbox was replaced, or the server stops)."""
        for task in self._tasks:
            task.cancel()

    async def _run(self, what: str, parts: Parts) -> None:
        sent: Any = None
        try:
            while True:
                await asyncio.sleep(0)  # the answer, and other requests, go first
                step = parts.send(sent)
                sent = await asyncio.to_thread(step.work) if step is not None else None
        except StopIteration:
            return
        except asyncio.CancelledError:
            parts.close()
            raise
        except Exception:  # a bug: logged, and the requests go on being served
            log.exception("%s stopped", what)


def _drain(parts: Parts) -> None:
    """Every part at once, thread steps run here: the work before the answer."""
    sent: Any = None
    try:
        while True:
            step = parts.send(sent)
            sent = step.work() if step is not None else None
    except StopIteration:
        return
