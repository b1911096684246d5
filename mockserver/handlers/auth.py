"""Who is calling: the one place that reads credential headers.

Business Connect callers send ``X-Api-Key`` and ``X-Api-Token`` (and, for a user's
devices, ``Authorization: Bearer <OAuth token>``); ThinQ asynchronous callers send
``x-service-id``/``x-service-key`` and the user's bearer token; ThinQ Connect callers
(LG's SDK) send a personal access token as the bearer, ``x-country``, ``x-api-key`` and
their own ``x-client-id``. This module parses those
headers once and hands the backends plain keys and tokens: no backend sees a header.
"""

from __future__ import annotations

from mockserver.backends.accounts import Partner, Service, User
from mockserver.errors import Api, ApiError, Err
from mockserver.handlers.context import header, sandbox


def bearer_token(authorization: str | None, *, malformed: Err = Err.INVALID_HEADER) -> str:
    """The token of an ``Authorization: Bearer <token>`` header.

    Business Connect refuses a header of another form as an invalid header; the ThinQ
    API, whose platform only knows "invalid token", passes ``Err.TOKEN_INVALID``.
    """
    if not authorization:
        raise ApiError(Err.MISSING_HEADER, "Authorization is required", field="Authorization")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            malformed, "Authorization must be 'Bearer <access token>'", field="Authorization"
        )
    return token.strip()


def partner(family: str) -> Partner:
    """The Business Connect partner behind X-Api-Key/X-Api-Token, with ``family``'s role."""
    accounts = sandbox().accounts
    return accounts.verify_token(header("x-api-key"), header("x-api-token"), family).partner


def partner_user(caller: Partner) -> User:
    """The user named by the Authorization bearer, as the calling partner sees them."""
    return sandbox().accounts.user_for_partner(bearer_token(header("authorization")), caller)


def thinq_caller() -> tuple[Service, User]:
    """The ThinQ service (x-service-id/-key) and the user (bearer, x-country-code)."""
    thinq = sandbox().thinq
    service = thinq.service(header("x-service-id"), header("x-service-key"))
    token = bearer_token(header("authorization"), malformed=Err.TOKEN_INVALID)
    return service, thinq.user(token, header("x-country-code"))


def connect_caller() -> tuple[User, str]:
    """The ThinQ Connect user (PAT bearer, x-country, x-api-key) and the client id."""
    token = bearer_token(header("authorization"), malformed=Err.TOKEN_INVALID)
    user = sandbox().connect.caller(token, header("x-country") or "", header("x-api-key") or "")
    return user, header("x-client-id") or ""


def caller_name(api: Api, headers: dict[str, str]) -> str | None:
    """Who made a call, for the journal: a partner id (else the key sent), a service id,
    the ThinQ Connect PAT's user."""
    if api is Api.BUSINESS_CONNECT:
        key = headers.get("x-api-key")
        found = sandbox().accounts.find_partner(key) if key else None
        return found.partner_id if found else key
    if api is Api.THINQ_CONNECT:
        # The PAT's user, else nothing: an unknown token is the call's own finding.
        token = (headers.get("authorization") or "").partition(" ")[2].strip()
        user = sandbox().accounts.find_user_by_pat(token)
        return user.user_number if user else None
    return headers.get("x-service-id")
