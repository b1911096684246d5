"""The request journal and fault rules, in-process."""

from __future__ import annotations

import pytest

from mockserver.errors import Api, ApiError, Err
from mockserver.faults import FaultRules, parse_prefer
from mockserver.journal import Journal, JournalEntry


def entry(journal: Journal, at: str, **fields: object) -> JournalEntry:
    values = {
        "api": "bc",
        "operation_id": "getDevices",
        "caller": "p1",
        "method": "GET",
        "path": "/bc/v1/devices",
        "query": "",
        "request_headers": {},
        "request_body": b"",
        "status": 200,
        **fields,
    }
    made = JournalEntry(id=journal.next_id(), at=at, **values)
    journal.add(made)
    return made


def test_journal_is_bounded_and_filtered() -> None:
    journal = Journal(cap=3)
    for second in range(5):
        entry(journal, f"2030-01-01T00:00:0{second}", status=200 if second % 2 else 400)
    assert [e.at[-1] for e in journal.entries] == ["2", "3", "4"]
    assert [e.at[-1] for e in journal.find(since="2030-01-01T00:00:03")] == ["3", "4"]
    assert [e.at[-1] for e in journal.find(status=400)] == ["2", "4"]
    assert journal.find(caller="nobody") == []


def test_journal_round_trips_through_its_dict_form() -> None:
    journal = Journal()
    made = entry(
        journal, "2030-01-01T00:00:00", request_body=b'{"a": 1}', violations=[{"code": "4101"}]
    )
    again = Journal()
    again.restore([JournalEntry.from_dict(data) for data in journal.export()])
    assert again.export() == journal.export()
    assert again.next_id() == made.id + 1
    # And through a state file's row form: the head as JSON, the bodies as raw bytes.
    rows = [(e.head(), e.request_body, e.response_body) for e in journal.entries]
    from_rows = Journal()
    from_rows.restore([JournalEntry.from_row(*row) for row in rows], last_position=1)
    assert from_rows.export() == journal.export()


class Told:
    def __init__(self) -> None:
        self.positions: list[int] = []

    def record(self, position: int, entry: JournalEntry) -> None:
        self.positions.append(position)

    def cleared(self) -> None:
        self.positions.append(0)


def test_a_recorder_hears_each_entry_with_its_position() -> None:
    journal = Journal(cap=2)
    restored = [JournalEntry.from_dict(e.to_dict()) for e in [entry(Journal(), "a")] * 3]
    journal.restore(restored, last_position=40)  # stored already: not told again
    told = Told()
    journal.record_to(told)
    entry(journal, "2030-01-01T00:00:00")
    journal.clear()
    entry(journal, "2030-01-01T00:00:01")
    assert told.positions == [41, 0, 42]
    assert journal.first_kept() == 41  # a cap of 2: position 40 fell off
    migrated = Journal()
    migrated.restore(restored)  # a migrated file: its entries are told, from 1
    migrated.record_to(again := Told(), unsaved=True)
    assert again.positions == [1, 2, 3]


def test_rules_fire_by_match_count_and_probability() -> None:
    rules = FaultRules(seed=1)
    rules.add({"match": {"deviceId": "d1"}, "effect": {"error": "4304"}, "count": 1})
    never = rules.add({"match": {"path": "/bc/*"}, "effect": {"status": 500}, "probability": 0})
    facts = {"deviceId": "d1", "path": "/bc/v1/devices/d1"}
    assert rules.fire("request", facts).effect == {"error": "4304"}
    assert rules.fire("request", facts) is None  # count spent; the other never wins its draw
    assert never.fired == 0
    assert rules.fire("callback", facts) is None


def test_rule_ids_never_collide_with_restored_ones() -> None:
    rules = FaultRules()
    rules.add({"id": "fault-1", "effect": {"delay": 5}})
    assert rules.add({"effect": {"delay": 5}}).id == "fault-2"


def test_prefer_parsing() -> None:
    assert parse_prefer("error=4304, delay=20", Api.BUSINESS_CONNECT).error == "4304"
    assert parse_prefer("return=minimal", Api.BUSINESS_CONNECT).error is None
    for bad in ("error=1222", "delay=soon", "delay=999999"):
        with pytest.raises(ApiError) as caught:
            parse_prefer(bad, Api.BUSINESS_CONNECT)
        assert caught.value.reason is Err.INVALID_HEADER and caught.value.field == "Prefer"
