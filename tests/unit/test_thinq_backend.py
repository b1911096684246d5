"""ThinQ asynchronous backend in-process: outcomes per device, subscriptions, expiry."""

from __future__ import annotations

import copy

import pytest

from lgspecs.data import default_scenario
from mockserver import scenario
from mockserver.backends.sandbox import Sandbox
from mockserver.errors import ApiError, Err
from tests.support import KR_AC, KR_TOKEN, KR_USER


@pytest.fixture
def sandbox() -> Sandbox:
    loaded = scenario.load(copy.deepcopy(scenario.read_file(default_scenario())))
    loaded.clock.freeze()
    return loaded


def caller(sandbox: Sandbox):
    thinq = sandbox.thinq
    return (
        thinq.service("acme-thinq-service", "acme-thinq-service-key"),
        thinq.user(KR_TOKEN, "KR"),
    )


def test_callers_are_checked(sandbox: Sandbox) -> None:
    with pytest.raises(ApiError) as caught:
        sandbox.thinq.service("acme-thinq-service", "wrong")
    assert caught.value.reason is Err.INVALID_SERVICE_KEY
    with pytest.raises(ApiError) as caught:
        sandbox.thinq.user("nobody", "KR")
    assert caught.value.reason is Err.TOKEN_INVALID
    with pytest.raises(ApiError) as caught:
        sandbox.thinq.user(KR_TOKEN, "US")
    assert caught.value.reason is Err.INVALID_HEADER


def test_one_outcome_per_owned_device(sandbox: Sandbox) -> None:
    _, user = caller(sandbox)
    owned = {d.device_id for d in sandbox.devices.owned_by(KR_USER)}
    assert {o.device.device_id for o in sandbox.thinq.profiles(user)} == owned
    sandbox.devices.set_online(KR_AC, False)
    statuses = {o.device.device_id: o for o in sandbox.thinq.statuses(user)}
    assert statuses[KR_AC].error is not None and statuses[KR_AC].error.reason is Err.DEVICE_OFFLINE
    assert all(o.error is None for d, o in statuses.items() if d != KR_AC)


def test_control_applies_per_device_and_reports_refusals(sandbox: Sandbox) -> None:
    _, user = caller(sandbox)
    [outcome] = sandbox.thinq.control(
        user, "DEVICE_AIR_CONDITIONER", {"operation": {"airConOperationMode": "POWER_OFF"}}
    )
    assert outcome.error is None
    assert sandbox.devices.get(KR_AC).status["operation"]["airConOperationMode"] == "POWER_OFF"
    [refused] = sandbox.thinq.control(
        user, "DEVICE_AIR_CONDITIONER", {"airConJobMode": {"currentJobMode": "COOL"}}
    )
    assert refused.error is not None and refused.error.reason is Err.DEVICE_POWER_OFF
    assert sandbox.thinq.control(user, "DEVICE_WASHER", {}) == []


def test_event_subscription_expires_on_the_sandbox_clock(sandbox: Sandbox) -> None:
    service, user = caller(sandbox)
    sandbox.thinq.subscribe_events(service, user, hours=1)
    device = sandbox.devices.get(KR_AC)
    assert len(sandbox.thinq.event_subscribers(device)) == 1
    sandbox.clock.advance(3599)
    assert len(sandbox.thinq.event_subscribers(device)) == 1
    sandbox.clock.advance(1)
    assert sandbox.thinq.event_subscribers(device) == []
    outcomes = sandbox.thinq.unsubscribe_events(service, user)
    assert {o.error.reason for o in outcomes if o.error} == {Err.NOT_SUBSCRIBED}


def test_push_subscription_twice_and_unsubscribe_codes(sandbox: Sandbox) -> None:
    service, user = caller(sandbox)
    assert all(o.error is None for o in sandbox.thinq.subscribe_push(service, user))
    assert all(
        o.error.reason is Err.ALREADY_SUBSCRIBED
        for o in sandbox.thinq.subscribe_push(service, user)
    )
    assert all(o.error is None for o in sandbox.thinq.unsubscribe_push(service, user))
    again = sandbox.thinq.unsubscribe_push(service, user)
    assert {o.error.vendor_code for o in again} == {"1206"}
