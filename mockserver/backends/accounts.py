"""Who may call: Business Connect partners and their API tokens, ThinQ services, users.

Plain state and rules, no HTTP. API tokens are real HS256 JWTs signed with the partner's
API secret, so a token stays valid across a restart from a state file and a token of
one partner can never pass as another's (the signature would not match).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

import jwt

from mockserver.backends import inbox
from mockserver.clock import SandboxClock
from mockserver.errors import ApiError, Err

TOKEN_ISSUER = "LG Business Connect"
TOKEN_LIFETIME = timedelta(hours=24)
TOKEN_KEY_ID = "lgmock"

# The role a token needs per API family. The seed's sample token carries
# ["getBeconUsers", "getDrUsers", "postToken"]; the DR name is taken from it, the
# others follow its verbNoun style (spec-notes, "token roles").
ROLE_FOR_FAMILY = {
    "device": "getDevices",
    "event": "pushEvents",
    "user": "manageUsers",
    "dr": "getDrUsers",
}
ALL_ROLES = ["postToken", *ROLE_FOR_FAMILY.values()]
TOKEN_CACHE_SIZE = 1024

T = TypeVar("T")


def signing_key(partner: Partner) -> bytes:
    """The partner's HS256 key, derived from its API secret.

    Hashing stretches short sandbox secrets to the 32 bytes RFC 7518 asks of an HS256
    key while keeping the property that matters: only this partner's tokens verify.
    """
    return hashlib.sha256(f"lgmock-api-token:{partner.api_secret}".encode()).digest()


@dataclass
class Partner:
    partner_id: str
    api_key: str
    api_secret: str
    roles: list[str] = field(default_factory=lambda: list(ALL_ROLES))
    callback_url: str | None = None
    push_subscriptions: set[str] = field(default_factory=set)

    @property
    def delivery_url(self) -> str:
        """Where its push messages go: its receiver, else the sandbox's inbox."""
        return self.callback_url or inbox.address(inbox.PARTNERS, self.partner_id)


@dataclass
class Service:
    service_id: str
    service_key: str
    callback_url: str | None = None

    @property
    def delivery_url(self) -> str:
        """Where its callbacks go: its receiver, else the sandbox's inbox."""
        return self.callback_url or inbox.address(inbox.SERVICES, self.service_id)


@dataclass
class User:
    user_number: str
    access_token: str
    country_code: str
    # The ThinQ Connect personal access token (PAT), if the user has one.
    pat: str | None = None
    # Partners whose service this user disconnected from (DELETE /v1/user/service).
    disconnected_from: set[str] = field(default_factory=set)


@dataclass
class TokenClaims:
    partner: Partner
    roles: list[str]
    expires_at: float


class _Index(Generic[T]):
    """Finds an entry of a dict by one of its attributes (an API key, an access token).

    Partners and users are plain dicts that scenario code fills directly, so the index
    is rebuilt when it misses or is stale rather than kept in step on every write.
    """

    def __init__(self, key_of: Callable[[T], str]) -> None:
        self.key_of = key_of
        self._names: dict[str, str] = {}

    def find(self, table: dict[str, T], key: str) -> T | None:
        found = table.get(self._names.get(key, ""))
        if found is None or self.key_of(found) != key:
            self._names = {self.key_of(entry): name for name, entry in table.items()}
            found = table.get(self._names.get(key, ""))
        return found


class Accounts:
    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self.partners: dict[str, Partner] = {}
        self.services: dict[str, Service] = {}
        self.users: dict[str, User] = {}
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}
        self._partner_by_key = _Index[Partner](lambda partner: partner.api_key)
        self._user_by_token = _Index[User](lambda user: user.access_token)
        self._user_by_pat = _Index[User](lambda user: user.pat or "")
        # Credentials given so far: a fleet's thousands of users are added in linear time.
        self._taken: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ lookups
    def add_partner(self, partner: Partner) -> None:
        if ("key", partner.api_key) in self._taken:
            raise ValueError(f"apiKey of partner {partner.partner_id!r} is already used")
        self._taken.add(("key", partner.api_key))
        self.partners[partner.partner_id] = partner

    def add_user(self, user: User) -> None:
        if ("token", user.access_token) in self._taken:
            raise ValueError(f"accessToken of user {user.user_number!r} is already used")
        if user.pat and ("pat", user.pat) in self._taken:
            raise ValueError(f"pat of user {user.user_number!r} is already used")
        self._taken.add(("token", user.access_token))
        if user.pat:
            self._taken.add(("pat", user.pat))
        self.users[user.user_number] = user

    def partner_by_key(self, api_key: str | None) -> Partner:
        if not api_key:
            raise ApiError(Err.MISSING_HEADER, "X-Api-Key is required", field="X-Api-Key")
        partner = self.find_partner(api_key)
        if partner is None:
            raise ApiError(Err.INVALID_CREDENTIALS, "unknown X-Api-Key", field="X-Api-Key")
        return partner

    def find_partner(self, api_key: str) -> Partner | None:
        """The partner holding ``api_key``, or None. A dictionary lookup, not a scan."""
        return self._partner_by_key.find(self.partners, api_key)

    def find_user(self, access_token: str) -> User | None:
        """The user whose OAuth access token this is, or None."""
        return self._user_by_token.find(self.users, access_token)

    def find_user_by_pat(self, pat: str) -> User | None:
        """The user whose ThinQ Connect personal access token this is, or None."""
        return self._user_by_pat.find(self.users, pat) if pat else None

    def user_for_partner(self, access_token: str, partner: Partner) -> User:
        """The user of an OAuth access token, as seen by a partner's service."""
        user = self.find_user(access_token)
        if user is None:
            raise ApiError(Err.TOKEN_INVALID, "unknown OAuth access token", field="Authorization")
        if partner.partner_id in user.disconnected_from:
            raise ApiError(
                Err.FORBIDDEN,
                f"user {user.user_number} disconnected from {partner.partner_id}",
                field="Authorization",
            )
        return user

    # ------------------------------------------------------------------ tokens
    def issue_token(self, api_key: str | None, api_secret: str | None) -> str:
        partner = self.partner_by_key(api_key)
        if not api_secret:
            raise ApiError(Err.MISSING_HEADER, "X-Api-Secret is required", field="X-Api-Secret")
        if api_secret != partner.api_secret:
            raise ApiError(
                Err.INVALID_CREDENTIALS,
                "X-Api-Secret does not match X-Api-Key",
                field="X-Api-Secret",
            )
        issued = self.clock.now()
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": partner.api_key,
            "roles": list(partner.roles),
            "iat": int(issued.timestamp()),
            "exp": int((issued + TOKEN_LIFETIME).timestamp()),
        }
        return jwt.encode(
            claims, signing_key(partner), algorithm="HS256", headers={"kid": TOKEN_KEY_ID}
        )

    def verify_token(self, api_key: str | None, token: str | None, family: str) -> TokenClaims:
        """Check signature, issuer, key match, expiry (sandbox clock) and the family's role."""
        partner = self.partner_by_key(api_key)
        cached = self._verified.get((partner.partner_id, token or ""))
        claims = cached if cached is not None else self._decode(partner, token)
        if claims["exp"] <= self.clock.timestamp():
            raise ApiError(Err.TOKEN_EXPIRED, "X-Api-Token has expired", field="X-Api-Token")
        if cached is None:
            # A client sends the same token on every call for a day: checking its HMAC
            # once per token is enough (the expiry above is checked every time).
            if len(self._verified) >= TOKEN_CACHE_SIZE:
                self._verified.clear()
            self._verified[(partner.partner_id, token or "")] = claims
        roles = list(claims.get("roles") or [])
        needed = ROLE_FOR_FAMILY.get(family)
        if needed and needed not in roles:
            raise ApiError(
                Err.FORBIDDEN,
                f"the token's roles {roles} lack {needed!r}, needed by the {family} API",
            )
        return TokenClaims(partner=partner, roles=roles, expires_at=float(claims["exp"]))

    def _decode(self, partner: Partner, token: str | None) -> dict[str, Any]:
        """The claims of a token signed for ``partner``, or the ApiError it deserves."""
        if not token:
            raise ApiError(Err.TOKEN_MISSING, "X-Api-Token is required", field="X-Api-Token")
        if token.count(".") != 2:
            raise ApiError(Err.TOKEN_MISSING, "X-Api-Token is not a JWT", field="X-Api-Token")
        try:
            # Expiry is checked against the sandbox clock below, not the wall clock.
            claims = jwt.decode(
                token,
                signing_key(partner),
                algorithms=["HS256"],
                issuer=TOKEN_ISSUER,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub"]},
            )
        except jwt.InvalidSignatureError as exc:
            # A well-formed token signed for another key: invalid, not malformed.
            raise ApiError(
                Err.TOKEN_INVALID,
                "X-Api-Token signature does not match X-Api-Key",
                field="X-Api-Token",
            ) from exc
        except jwt.DecodeError as exc:
            raise ApiError(
                Err.TOKEN_MISSING, f"X-Api-Token is malformed: {exc}", field="X-Api-Token"
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise ApiError(
                Err.TOKEN_INVALID,
                f"X-Api-Token is not valid for this key: {exc}",
                field="X-Api-Token",
            ) from exc
        if claims.get("sub") != partner.api_key:
            raise ApiError(
                Err.TOKEN_INVALID,
                "X-Api-Token was issued for another X-Api-Key",
                field="X-Api-Token",
            )
        return claims
