"""The running sandbox and what outlives a reset: the scenario to reset to, and the
callback delivery engine.

``app.py`` creates one Runtime per server. Loading a scenario swaps the whole sandbox at
once, so a request never sees half of an old state and half of a new one; deliveries
queued for the old state are dropped with it. A reset builds a new sandbox from the
prepared scenario (its fleet of device records is shared, never rebuilt).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockserver import persistence, scenario, simulation
from mockserver.after_answer import AfterAnswer
from mockserver.backends.sandbox import Sandbox
from mockserver.callbacks import DeliveryEngine
from mockserver.journal import Journal, JournalEntry
from mockserver.notifications import Notifier

if TYPE_CHECKING:
    from mockserver.mqtt.channel import PushChannel

log = logging.getLogger("lgmock")


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
        # ThinQ Connect's push channel (the server's; outlives resets): set_push_channel.
        self.mqtt: PushChannel | None = None
        # The request journal outlives resets and scenario loads: a client's CI reads
        # the contract report over a whole run that may reset between tests.
        self.journal = Journal(journal_cap) if journal_cap else Journal()
        # Work calls leave for after their answer; done before it with a state file.
        self.after_answer = AfterAnswer(inline=lambda: self.store is not None)
        self._prepared: scenario.Prepared
        self.sandbox: Sandbox = self._build(document, source)

    @classmethod
    def from_file(cls, path: Path, *, seed: int | None = None, **options: Any) -> Runtime:
        return cls(scenario.read_file(path), str(path), seed=seed, **options)

    def _effective(self, document: dict[str, Any]) -> dict[str, Any]:
        if self._seed_override is not None:
            return {**document, "seed": self._seed_override}
        return document

    def _build(self, document: dict[str, Any], source: str) -> Sandbox:
        prepared, sandbox = scenario.prepare(self._effective(document), source)
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
        if self.mqtt is not None:
            sandbox.connect.push_channel = self.mqtt
        sandbox.devices.on_change(Notifier(sandbox, self.engine))
        simulation.attach(sandbox)

    def set_push_channel(self, channel: PushChannel) -> None:
        """Hand the server's MQTT channel to the delivery engine and the sandbox."""
        self.mqtt = channel
        self.deliveries.mqtt = channel
        self.sandbox.connect.push_channel = channel

    # ------------------------------------------------------------------ state file
    # The open state file (--state-file), and what its next commit must say beyond the
    # sandbox's own change log: a new base scenario, or the changes over it dropped.
    store: persistence.StateStore | None = None
    _unsaved_base: tuple[str, dict[str, Any]] | None = None
    _dropped = False

    @classmethod
    def with_state_file(
        cls,
        state_file: Path,
        scenario_file: Path,
        *,
        seed: int | None = None,
        journal_cap: int | None = None,
    ) -> Runtime:
        """Restore from ``state_file`` if it exists, else start from the scenario and
        create it; StateFileError (or ScenarioError) if that cannot be done."""
        if state_file.exists():
            return cls.from_state_file(state_file, journal_cap=journal_cap)
        document = scenario.read_file(scenario_file)
        runtime = cls(document, str(scenario_file), seed=seed, journal_cap=journal_cap)
        runtime.store = persistence.StateStore.create(
            state_file, str(scenario_file), runtime._effective(document)
        )
        runtime._dropped = True  # the first commit writes the clock beside the base
        runtime.sandbox.take_changes()
        runtime.journal.record_to(runtime.store.journal)
        return runtime

    @classmethod
    def from_state_file(cls, path: Path, *, journal_cap: int | None = None) -> Runtime:
        """Restore everything a state file holds; StateFileError if it cannot be used.

        The base scenario is what a reset goes back to; the current state is the base
        with the stored changes over it.
        """
        stored = persistence.read(path)
        try:
            runtime = cls(stored.base, stored.source, journal_cap=journal_cap)
            if stored.families or stored.devices:
                runtime._restore_current(stored.current(), stored.source)
        except scenario.ScenarioError as exc:
            raise persistence.StateFileError(
                f"{path}: incompatible with this lgmock:\n{exc}"
            ) from exc
        try:
            entries = [JournalEntry.from_row(*row[1:]) for row in stored.journal]
            entries += [JournalEntry.from_dict(item) for item in stored.legacy_journal]
            last = None if stored.legacy else (stored.journal[-1][0] if stored.journal else 0)
            runtime.journal.restore(entries, last_position=last)
            runtime.deliveries.restore(stored.deliveries, saved=not stored.legacy)
        except (KeyError, TypeError, ValueError) as exc:
            raise persistence.StateFileError(f"{path}: journal entries unreadable: {exc}") from exc
        runtime.sandbox.take_changes()  # what was restored is stored already
        runtime.store = persistence.StateStore.attach(path, stored)
        runtime._dropped = stored.legacy
        # A format-1 file's journal is written anew; the others' is in its file already.
        runtime.journal.record_to(runtime.store.journal, unsaved=stored.legacy)
        return runtime

    def _restore_current(self, document: dict[str, Any], source: str) -> None:
        """Build the sandbox from ``document`` while a reset still goes back to the base."""
        base = self._prepared
        self.sandbox = self._build(document, source)
        self._prepared = base

    @property
    def unsaved_base(self) -> tuple[str, dict[str, Any]] | None:
        """The scenario loaded since the last commit: the next one writes it as the base."""
        return self._unsaved_base

    @property
    def dropped(self) -> bool:
        """Whether a reset or a load since the last commit dropped the changes over the base."""
        return self._dropped

    def has_unsaved(self) -> bool:
        """Whether the state file lacks a change (the journal aside): a few flag tests,
        so a call that changed nothing pays next to nothing for the state file."""
        return self.store is not None and (
            self._unsaved_base is not None
            or self._dropped
            or self.sandbox.has_changes()
            or self.deliveries.has_unsaved()
        )

    def commit(self) -> None:
        """Write what changed to the state file, in one transaction.

        The change logs are emptied only once the transaction is committed: if it fails
        (sqlite3.Error or OSError, raised), the file is left at its last commit and every
        change is still owed, for the next commit to write.
        """
        if self.has_unsaved():
            assert self.store is not None
            self.store.write(self.changes())
            self._unsaved_base = None
            self._dropped = False
            self.sandbox.take_changes()
            self.deliveries.saved()

    def changes(self) -> persistence.Changes:
        """What changed since the last commit, as the state file's rows: cheap when
        nothing did.

        The sandbox says which devices and entity families changed (its copy-on-write
        change log), the delivery engine what it added and what progressed; only those
        are exported. Nothing is taken: the change logs are emptied by ``commit`` once
        the rows are committed, so a commit that fails leaves them all for the next one.
        (The request journal records to its own file: ``journal_file``.)
        """
        changes = persistence.Changes()
        sandbox = self.sandbox
        base = self._unsaved_base
        if base is not None:
            changes.base = base
            changes.dropped = True
        elif self._dropped:
            changes.dropped = True
        taken = sandbox.changes()
        families = set(taken.families)
        if sandbox.faults.has_fired():
            families.add("faults")  # a count-limited rule must not fire again after a crash
        if changes.dropped:
            # What building the sandbox made that its scenario does not say: the clock's
            # instant (stored with the wall time, see current()) and the DR file secret.
            families |= {"clock", "dr"}
        if "dr" in families:
            # By the piece: what the DR backend's change log names, or all of it after a
            # reset or a load (the rows over the old base are gone).
            families.discard("dr")
            if changes.dropped:
                changes.dr_pieces, changes.dr_whole = sandbox.dr.all_pieces(), True
            else:
                changes.dr_pieces, changes.dr_removed = sandbox.dr.changed_pieces()
        if families:
            changes.families = scenario.export_entities(sandbox, families)
            if "clock" in changes.families:
                changes.families["clock"] = {**changes.families["clock"], "wallTime": time.time()}
        store = sandbox.devices
        for device_id in taken.devices:
            info = store.info(device_id)
            if info is not None:
                status = store.status_of(device_id)
                changes.devices[device_id] = scenario.export_device(info, status)
        cleared, new, progressed, forgotten = self.deliveries.unsaved()
        changes.deliveries_cleared = cleared
        changes.deliveries_new = persistence.delivery_rows(new)
        changes.deliveries_updated = persistence.delivery_progress(progressed)
        changes.deliveries_forgotten = forgotten
        return changes

    def commit_or_roll_back(self) -> None:
        """``commit`` before answers leave (GroupCommit): if it fails, the state in memory
        is rolled back to what the file holds before the error is raised, so the calls
        answered with the error leave no change visible (docs/durability.md)."""
        try:
            self.commit()
        except (sqlite3.Error, OSError):
            self.roll_back()
            raise

    def roll_back(self) -> None:
        """Make the state in memory again from the state file's last commit.

        Everything the file holds comes back as a restart would bring it: the base
        scenario (what a reset goes back to), the changes over it, the deliveries (those
        still owed sent again: deliveries are at least once). What no commit wrote is
        gone: the changes of the calls answered with the error, and what changed without
        a call since the last commit (delivery attempts, time-driven devices), which
        time and the retries bring back. The request journal is not the state file's
        and stays. Costs what a restart from the file costs (docs/durability.md).
        """
        assert self.store is not None
        try:
            stored = self.store.read_back()
            self.sandbox = self._build(stored.base, stored.source)
            if stored.families or stored.devices:
                self._restore_current(stored.current(), stored.source)
        except Exception:
            # The file cannot even be read back: memory is all there is. Its changes
            # stay owed, for a commit to write once the file can be written again.
            log.exception("state file %s unreadable after a failed commit", self.store.path)
            return
        self.deliveries.restore(stored.deliveries)
        self._unsaved_base = None
        self._dropped = False
        self.sandbox.take_changes()
        self.deliveries.saved()
        self.deliveries.resume()
        log.warning("state rolled back to the last commit of %s", self.store.path)

    def save(self) -> None:
        """Commit everything, and hand the request journal's new entries to its file
        (ticker and shutdown). A failed commit is raised, its changes kept for the next."""
        try:
            self.commit()
        finally:
            if self.store is not None:
                self.store.journal.flush(self.journal.first_kept())

    def close_state_file(self) -> None:
        if self.store is not None:
            self.save()
            self.journal.record_to(None)
            self.store.close()
            self.store = None

    def started(self) -> None:
        """The server's loop is running: send what a restored journal still owes."""
        self.deliveries.resume()

    def tick(self) -> None:
        self.sandbox.tick()

    @property
    def deliveries(self) -> DeliveryEngine:
        assert self.engine is not None
        return self.engine

    def load(self, document: dict[str, Any], source: str) -> Sandbox:
        """Replace the state with a scenario; on any problem the old state stays."""
        self.sandbox = self._build(document, source)
        self.after_answer.stop_all()  # what the old state had under way went with it
        if self.store is not None:
            self._unsaved_base = (source, self._effective(document))
            self.sandbox.take_changes()  # the base holds what loading it did
        return self.sandbox

    def reset(self) -> Sandbox:
        """Back to the last scenario loaded (at start, or through POST /_sandbox/scenario).

        Costs what the scenario's entity families cost: the devices go back to their
        records by dropping what changed (copy-on-write), none is rebuilt.
        """
        sandbox = self._prepared.build()
        self._attach(sandbox)
        self.sandbox = sandbox
        self.after_answer.stop_all()  # what the old state had under way went with it
        if self.store is not None:
            self._dropped = True
            sandbox.take_changes()
        return sandbox

    @property
    def prepared(self) -> scenario.Prepared:
        """The scenario a reset goes back to (its document has no devices: see fleet)."""
        return self._prepared
