"""Event (push subscription) and User APIs over HTTP."""

from __future__ import annotations

import httpx

from tests.api.test_token_and_auth import assert_refused
from tests.support import (
    KR_FRIDGE,
    KR_TOKEN,
    KR_USER,
    OFFICE_AC,
    US_WASHER,
    bc_headers,
    user_headers,
)


def subscribed(http: httpx.Client, headers: dict[str, str]) -> set[str]:
    answer = http.get("/bc/v1/push", headers=headers)
    assert answer.status_code == 200, answer.text
    return {item["deviceId"] for item in answer.json()["response"]}


def reportable(http: httpx.Client, headers: dict[str, str], device_id: str) -> bool:
    items = http.get("/bc/v1/devices", headers=headers).json()["response"]
    return next(i for i in items if i["deviceId"] == device_id)["deviceInfo"]["reportable"]


def test_subscribe_list_and_unsubscribe(http: httpx.Client) -> None:
    headers = bc_headers(http)
    assert subscribed(http, headers) == set()
    answer = http.post(f"/bc/v1/push/{OFFICE_AC}", headers=headers)
    assert answer.status_code == 200 and answer.json()["response"] == {}
    assert subscribed(http, headers) == {OFFICE_AC}
    assert reportable(http, headers, OFFICE_AC) is True
    assert http.delete(f"/bc/v1/push/{OFFICE_AC}", headers=headers).status_code == 200
    assert subscribed(http, headers) == set()
    assert reportable(http, headers, OFFICE_AC) is False


def test_subscribing_twice_is_a_conflict(http: httpx.Client) -> None:
    headers = bc_headers(http)
    assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=headers).status_code == 200
    assert_refused(http.post(f"/bc/v1/push/{OFFICE_AC}", headers=headers), 409, "4314", OFFICE_AC)


def test_unsubscribing_what_is_not_subscribed_is_not_found(http: httpx.Client) -> None:
    headers = bc_headers(http)
    assert_refused(
        http.delete(f"/bc/v1/push/{OFFICE_AC}", headers=headers), 404, "4304", "not subscribed"
    )


def test_subscription_needs_the_device_in_reach(http: httpx.Client) -> None:
    assert_refused(http.post(f"/bc/v1/push/{KR_FRIDGE}", headers=bc_headers(http)), 404, "4304")


def test_subscriptions_are_listed_per_account(http: httpx.Client) -> None:
    user = user_headers(http, KR_TOKEN, "KR")
    assert http.post(f"/bc/v1/push/{KR_FRIDGE}", headers=user).status_code == 200
    assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=bc_headers(http)).status_code == 200
    assert subscribed(http, user) == {KR_FRIDGE}
    assert subscribed(http, bc_headers(http)) == {OFFICE_AC}


def test_get_user_number(http: httpx.Client) -> None:
    answer = http.get("/bc/v1/users", headers=user_headers(http, KR_TOKEN, "KR"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"] == {"userNumber": KR_USER}


def test_user_api_requires_the_bearer(http: httpx.Client) -> None:
    headers = user_headers(http, KR_TOKEN, "KR")
    headers.pop("Authorization")
    assert_refused(http.get("/bc/v1/users", headers=headers), 400, "4101", "Authorization")


def test_disconnect_drops_subscriptions_and_in_header_access(http: httpx.Client) -> None:
    user = user_headers(http, KR_TOKEN, "KR")
    assert http.post(f"/bc/v1/push/{KR_FRIDGE}", headers=user).status_code == 200
    assert http.post(f"/bc/v1/push/{OFFICE_AC}", headers=bc_headers(http)).status_code == 200
    answer = http.delete("/bc/v1/user/service", headers=user_headers(http, KR_TOKEN, "KR"))
    assert answer.status_code == 200, answer.text
    state = http.get("/_sandbox/state").json()
    acme = next(p for p in state["partners"] if p["partnerId"] == "acme-energy")
    assert acme["pushSubscriptions"] == [OFFICE_AC]  # only the user's went
    again = user_headers(http, KR_TOKEN, "KR")
    assert_refused(http.get("/bc/v1/devices", headers=again), 403, "4202", "disconnected")
    assert_refused(http.get(f"/bc/v1/devices/{KR_FRIDGE}", headers=again), 403, "4202")
    # The partner's own REGISTERED account is untouched.
    assert http.get("/bc/v1/devices", headers=bc_headers(http)).status_code == 200
    # Another user's access is untouched.
    assert (
        http.get(
            f"/bc/v1/devices/{US_WASHER}",
            headers=user_headers(http, "us-user-oauth-token-0002", "US"),
        ).status_code
        == 200
    )
