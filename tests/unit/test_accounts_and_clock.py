"""Accounts, tokens and the sandbox clock, in-process (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest

from mockserver.backends.accounts import Accounts, Partner, User, signing_key
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError, Err
from mockserver.handlers.auth import bearer_token

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def accounts() -> Accounts:
    accounts = Accounts(SandboxClock(START, frozen=True))
    accounts.add_partner(Partner("p1", "key-1", "secret-1"))
    accounts.add_partner(Partner("p2", "key-2", "secret-2", roles=["postToken", "getDevices"]))
    accounts.add_user(User("KR1", "oauth-1", "KR"))
    return accounts


def reason(call) -> Err:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.reason


def test_token_round_trip(accounts: Accounts) -> None:
    token = accounts.issue_token("key-1", "secret-1")
    claims = accounts.verify_token("key-1", token, "dr")
    assert claims.partner.partner_id == "p1"
    assert claims.expires_at == START.timestamp() + 24 * 3600


def test_token_expires_on_the_sandbox_clock(accounts: Accounts) -> None:
    token = accounts.issue_token("key-1", "secret-1")
    accounts.clock.advance(24 * 3600 - 1)
    accounts.verify_token("key-1", token, "device")
    accounts.clock.advance(1)
    assert reason(lambda: accounts.verify_token("key-1", token, "device")) is Err.TOKEN_EXPIRED


def test_token_checks(accounts: Accounts) -> None:
    token = accounts.issue_token("key-1", "secret-1")
    other = accounts.issue_token("key-2", "secret-2")
    assert reason(lambda: accounts.verify_token("key-2", token, "device")) is Err.TOKEN_INVALID
    assert reason(lambda: accounts.verify_token("key-1", "a.b", "device")) is Err.TOKEN_MISSING
    assert reason(lambda: accounts.verify_token("key-1", None, "device")) is Err.TOKEN_MISSING
    assert reason(lambda: accounts.verify_token("nope", token, "device")) is Err.INVALID_CREDENTIALS
    assert reason(lambda: accounts.verify_token("key-2", other, "dr")) is Err.FORBIDDEN
    # Signed with the right key but claiming another subject.
    forged = jwt.encode(
        {"iss": "LG Business Connect", "sub": "key-2", "exp": START.timestamp() + 60},
        signing_key(accounts.partners["p1"]),
        algorithm="HS256",
    )
    assert reason(lambda: accounts.verify_token("key-1", forged, "device")) is Err.TOKEN_INVALID


def test_credentials(accounts: Accounts) -> None:
    assert reason(lambda: accounts.issue_token("key-1", "wrong")) is Err.INVALID_CREDENTIALS
    assert reason(lambda: accounts.issue_token(None, "secret-1")) is Err.MISSING_HEADER
    assert reason(lambda: accounts.issue_token("key-1", None)) is Err.MISSING_HEADER


def test_bearer_header_is_parsed_once_for_every_api() -> None:
    assert bearer_token("Bearer oauth-1") == "oauth-1"
    assert bearer_token("bearer  oauth-1 ") == "oauth-1"
    assert reason(lambda: bearer_token("oauth-1")) is Err.INVALID_HEADER
    assert reason(lambda: bearer_token("Bearer ")) is Err.INVALID_HEADER
    assert reason(lambda: bearer_token(None)) is Err.MISSING_HEADER
    assert reason(lambda: bearer_token("Basic x", malformed=Err.TOKEN_INVALID)) is Err.TOKEN_INVALID


def test_user_of_an_access_token(accounts: Accounts) -> None:
    partner = accounts.partners["p1"]
    assert accounts.user_for_partner("oauth-1", partner).user_number == "KR1"
    assert reason(lambda: accounts.user_for_partner("x", partner)) is Err.TOKEN_INVALID
    accounts.users["KR1"].disconnected_from.add("p1")
    assert reason(lambda: accounts.user_for_partner("oauth-1", partner)) is Err.FORBIDDEN


def test_lookups_follow_changes_to_the_account_tables(accounts: Accounts) -> None:
    # Scenario code writes the partner and user dicts directly; the indexes must follow.
    assert accounts.find_partner("key-1") is accounts.partners["p1"]
    accounts.partners["p1"].api_key = "key-9"
    assert accounts.find_partner("key-1") is None
    assert accounts.find_partner("key-9") is accounts.partners["p1"]
    assert accounts.find_user("oauth-1") is accounts.users["KR1"]
    del accounts.users["KR1"]
    assert accounts.find_user("oauth-1") is None


def test_duplicate_credentials_are_refused(accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="apiKey"):
        accounts.add_partner(Partner("p3", "key-1", "s"))
    with pytest.raises(ValueError, match="accessToken"):
        accounts.add_user(User("KR2", "oauth-1", "KR"))


def test_clock_frozen_advance_set_release() -> None:
    clock = SandboxClock(START, frozen=True)
    assert clock.now() == START
    clock.advance(10)
    assert (clock.now() - START).total_seconds() == 10
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.set(datetime(2020, 1, 1))
    assert clock.now() == datetime(2020, 1, 1, tzinfo=UTC)
    clock.release()
    assert not clock.frozen and clock.now() >= datetime(2020, 1, 1, tzinfo=UTC)
