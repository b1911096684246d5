"""The running sandbox and what outlives a reset: the scenario to reset to, and the
callback delivery engine.

``app.py`` creates one Runtime per server. Loading a scenario swaps the whole sandbox at
once, so a request never sees half of an old state and half of a new one; deliveries
queued for the old state are dropped with it. A reset builds a new sandbox from the
prepared scenario (its fleet of device records is shared, never rebuilt).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mockserver import persistence, scenario, simulation
from mockserver.backends.sandbox import Sandbox
from mockserver.callbacks import DeliveryEngine
from mockserver.journal import Journal
from mockserver.notifications import Notifier


class Runtime:
    def __init__(
        self,
        document: dict[str, Any],
        source: str,
        *,
        seed: int | None = None,
        journal_cap: int | None = None,
    ):
        self._seed_override = seed
        self.engine: DeliveryEngine | None = None
        # The request journal outlives resets and scenario loads: a client's CI reads
        # the contract report over a whole run that may reset between tests.
        self.journal = Journal(journal_cap) if journal_cap else Journal()
        self._prepared: scenario.Prepared
        self.sandbox: Sandbox = self._build(document, source)

    @classmethod
    def from_file(cls, path: Path, *, seed: int | None = None, **options: Any) -> Runtime:
        return cls(scenario.read_file(path), str(path), seed=seed, **options)

    def _build(self, document: dict[str, Any], source: str) -> Sandbox:
        if self._seed_override is not None:
            document = {**document, "seed": self._seed_override}
        prepared, sandbox = scenario.prepare(document, source)
        self._attach(sandbox)
        self._prepared = prepared
        return sandbox

    def _attach(self, sandbox: Sandbox) -> None:
        if self.engine is None:
            self.engine = DeliveryEngine(sandbox.clock, sandbox.delivery)
        else:
            self.engine.clear()
            self.engine.clock = sandbox.clock
            self.engine.settings = sandbox.delivery
        self.engine.faults = sandbox.faults
        sandbox.devices.on_change(Notifier(sandbox, self.engine))
        simulation.attach(sandbox)

    state_file: Path | None = None

    @classmethod
    def from_state_file(cls, path: Path, *, journal_cap: int | None = None) -> Runtime:
        """Restore everything a state file holds; StateFileError if it cannot be used."""
        data = persistence.read(path)
        try:
            runtime = cls(data["scenario"], f"{path} (scenario)", journal_cap=journal_cap)
        except scenario.ScenarioError as exc:
            raise persistence.StateFileError(
                f"{path}: incompatible with this lgmock:\n{exc}"
            ) from exc
        try:
            runtime.journal.restore(data["journal"])
            runtime.deliveries.restore(data["callbacks"])
        except (KeyError, TypeError, ValueError) as exc:
            raise persistence.StateFileError(f"{path}: journal entries unreadable: {exc}") from exc
        return runtime

    def started(self) -> None:
        """The server's loop is running: send what a restored journal still owes."""
        self.deliveries.resume()

    def save(self) -> None:
        if self.state_file is not None:
            persistence.save(self, self.state_file)

    def tick(self) -> None:
        self.sandbox.tick()

    @property
    def deliveries(self) -> DeliveryEngine:
        assert self.engine is not None
        return self.engine

    def load(self, document: dict[str, Any], source: str) -> Sandbox:
        """Replace the state with a scenario; on any problem the old state stays."""
        self.sandbox = self._build(document, source)
        return self.sandbox

    def reset(self) -> Sandbox:
        """Back to the last scenario loaded (at start, or through POST /_sandbox/scenario).

        Costs what the scenario's entity families cost: the devices go back to their
        records by dropping what changed (copy-on-write), none is rebuilt.
        """
        sandbox = self._prepared.build()
        self._attach(sandbox)
        self.sandbox = sandbox
        return sandbox

    @property
    def prepared(self) -> scenario.Prepared:
        """The scenario a reset goes back to (its document has no devices: see fleet)."""
        return self._prepared
