"""The control API's state changes live in the Sandbox backend, each marking the family
the state file must write."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from lgspecs.data import default_scenario
from mockserver import scenario
from mockserver.backends.sandbox import Sandbox
from mockserver.errors import ApiError, Err


@pytest.fixture
def sandbox() -> Sandbox:
    loaded = scenario.load(copy.deepcopy(scenario.read_file(default_scenario())))
    loaded.take_changes()
    return loaded


def test_a_service_callback_url_is_set_and_marks_services(sandbox: Sandbox) -> None:
    service_id = next(iter(sandbox.accounts.services))
    service = sandbox.set_service_callback(service_id, "http://127.0.0.1:1/thinq")
    assert sandbox.accounts.services[service_id].callback_url == "http://127.0.0.1:1/thinq"
    assert service is sandbox.accounts.services[service_id]
    assert sandbox.take_changes().families == {"services"}


def test_a_partner_callback_url_is_set_and_marks_partners(sandbox: Sandbox) -> None:
    partner_id = next(iter(sandbox.accounts.partners))
    sandbox.set_partner_callback(partner_id, "http://127.0.0.1:1/lg")
    assert sandbox.accounts.partners[partner_id].callback_url == "http://127.0.0.1:1/lg"
    assert sandbox.take_changes().families == {"partners"}


def test_unknown_ids_are_refused_and_change_nothing(sandbox: Sandbox) -> None:
    with pytest.raises(ApiError) as service:
        sandbox.set_service_callback("nope", "http://127.0.0.1:1/")
    with pytest.raises(ApiError) as partner:
        sandbox.set_partner_callback("nope", "http://127.0.0.1:1/")
    assert (service.value.reason, service.value.field) == (Err.SERVICE_NOT_FOUND, "serviceId")
    assert (partner.value.reason, partner.value.field) == (Err.PARTNER_NOT_FOUND, "partnerId")
    assert not sandbox.take_changes()


def test_fault_rules_mark_the_faults_family(sandbox: Sandbox) -> None:
    rule = sandbox.faults.add({"effect": {"status": 503}})
    assert sandbox.take_changes().families == {"faults"}
    sandbox.faults.remove(rule.id)
    assert sandbox.take_changes().families == {"faults"}
    with pytest.raises(ApiError):
        sandbox.faults.remove(rule.id)
    assert not sandbox.take_changes()
    sandbox.faults.clear()
    assert sandbox.take_changes().families == {"faults"}


def test_setting_the_clock_freezes_first_then_ticks(sandbox: Sandbox) -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ticked: list[datetime] = []
    sandbox.on_tick(ticked.append)
    sandbox.set_clock(at=moment, freeze=True)
    assert sandbox.clock.now() == moment and ticked == [moment]
    sandbox.set_clock(advance=60)
    assert (sandbox.clock.now() - moment).total_seconds() == 60
    assert sandbox.take_changes().families == {"clock"}
