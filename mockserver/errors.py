"""The vocabulary of refusals: every reason, the one exception, each API's documented codes.

Backends and the device simulator raise ``ApiError(Err.X, message, field=...)`` with an
API-neutral reason. The catalogues below say which vendor code (and so which HTTP
status) that reason travels as in each API, so one device refusal reads as ``4102``
through Business Connect and as ``2304`` through the ThinQ asynchronous API without
either handler knowing the other's codes. How a refusal is wrapped into each API's
envelope is ``error_answers.py``'s job; this module is a leaf every backend may import.

The catalogues below are the documented codes of each API (seed 004's response
descriptions; the ThinQ platform's codes as named by LG's ``thinqconnect`` SDK). Where
the seeds contradict themselves the choice is recorded in ``docs/spec-notes.md``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lgspecs.mounts import Api


class Err(enum.Enum):
    """API-neutral reasons a request is refused."""

    BAD_REQUEST = "bad request"
    MISSING_HEADER = "missing header"
    INVALID_HEADER = "invalid header"
    INVALID_MESSAGE_ID = "invalid message id"
    MISSING_BODY_FIELD = "missing body field"
    INVALID_BODY = "invalid body"
    TOKEN_MISSING = "missing or malformed token"
    TOKEN_INVALID = "invalid token"
    TOKEN_EXPIRED = "expired token"
    INVALID_CREDENTIALS = "invalid api key or secret"
    INVALID_SERVICE_KEY = "invalid service key"
    FORBIDDEN = "not allowed"
    NOT_FOUND_ROUTE = "no such operation"
    METHOD_NOT_ALLOWED = "method not allowed"
    # devices
    DEVICE_NOT_FOUND = "device not found"
    DEVICE_OFFLINE = "device not connected"
    DEVICE_POWER_OFF = "command not supported while the device is powered off"
    DEVICE_REMOTE_OFF = "command not supported while remote control is off"
    DEVICE_BUSY_STATE = "command not supported in the device's current state"
    INVALID_COMMAND = "invalid command"
    # users and subscriptions
    USER_NOT_FOUND = "user not found"
    NOT_SUBSCRIBED = "not subscribed"
    ALREADY_SUBSCRIBED = "already subscribed"
    # demand response
    DR_USER_NOT_FOUND = "DR user not found"
    DR_EVENT_NOT_FOUND = "DR event not found"
    DR_TARGET_NOT_FOUND = "DR event target not found"
    DR_DEVICE_NOT_FOUND = "DR device not found"
    DR_ZIP_TASK_NOT_FOUND = "zip file task not found"
    DR_ZIP_FILE_NOT_FOUND = "zip file not found"
    DR_PARTNER_NOT_FOUND = "partner not found"
    DR_GROUP_NOT_FOUND = "group not found"
    DR_PARTNER_USER_NOT_FOUND = "partner user not found"
    DR_USER_EXISTS = "DR user already exists"
    DR_EVENT_EXISTS = "DR event already exists"
    DR_TARGET_EXISTS = "DR event target already exists"
    DR_PARTNER_USER_EXISTS = "partner user already exists"
    DR_DEVICE_EXISTS = "DR device already exists"
    DR_GROUP_EXISTS = "group already exists"
    DR_AUTH_CODE_CONNECTED = "authCodeExt already connected"
    # control API objects (sandbox only: answered with these names as codes, 404)
    DELIVERY_NOT_FOUND = "no such callback delivery"
    FAULT_RULE_NOT_FOUND = "no such fault rule"
    SERVICE_NOT_FOUND = "no such ThinQ service"
    PARTNER_NOT_FOUND = "no such partner"
    NOT_IMPLEMENTED = "not implemented by the sandbox yet"
    INTERNAL = "internal server error"


class ApiError(Exception):
    """The one exception every layer raises to refuse a request.

    ``field`` names the header, body path or profile attribute at fault so the rendered
    message can say exactly what to fix. ``vendor_code`` pins a specific documented code
    (used by ``Prefer: error=<code>`` and fault rules) instead of the reason's default.
    """

    def __init__(
        self,
        reason: Err,
        message: str = "",
        *,
        field: str | None = None,
        vendor_code: str | None = None,
        details: list[str] | None = None,
        allow: tuple[str, ...] = (),
    ) -> None:
        self.reason = reason
        self.allow = allow  # for METHOD_NOT_ALLOWED: the path's methods (RFC 9110 Allow)
        self.details = details or []
        self.field = field
        self.vendor_code = vendor_code
        self.message = message or reason.value
        super().__init__(self.describe())

    def describe(self) -> str:
        if self.field and self.field not in self.message:
            return f"{self.message} (field: {self.field})"
        return self.message


@dataclass(frozen=True)
class CodeInfo:
    """One documented vendor code: the status it travels with and its official title."""

    code: str
    status: int
    title: str


def _catalogue(*rows: tuple[str, int, str]) -> dict[str, CodeInfo]:
    return {code: CodeInfo(code, status, title) for code, status, title in rows}


# Business Connect (seed 004). 4313/4314 mean different things in different operations
# of the seed; we keep the table printed on 11 of the 14 DR operations (see spec-notes).
BC_CODES = _catalogue(
    ("2000", 200, "Successful operation"),
    ("4000", 400, "Bad Request"),
    ("4101", 400, "Missing or Invalid Parameter(s) in Request Header"),
    ("4102", 400, "Missing or Invalid Parameter(s) in Request Body"),
    ("4103", 400, "Missing or Invalid Token"),
    ("4201", 401, "Invalid or Expired Token"),
    ("4202", 403, "Unauthorized request"),
    ("4301", 404, "Resource Not Found: User"),
    ("4302", 404, "Resource Not Found: Event"),
    ("4303", 404, "Resource Not Found: Event Target"),
    ("4304", 404, "Resource Not Found: Device"),
    ("4305", 404, "Resource Not Found: Zip File task"),
    ("4306", 404, "Resource Not Found: Zip File"),
    ("4307", 404, "Resource Not Found: Partner"),
    ("4308", 404, "Resource Not Found: Group"),
    ("4313", 404, "Resource Not Found: Partner User"),
    ("4309", 409, "Resource Already Exists: User"),
    ("4310", 409, "Resource Already Exists: Event"),
    ("4311", 409, "Resource Already Exists: Event Target"),
    ("4312", 409, "Resource Already Exists: Partner User"),
    ("4314", 409, "Resource Already Exists: Device"),
    ("4315", 409, "Resource Already Exists: Group"),
    ("5000", 500, "Internal Server Error"),
)

BC_REASONS: dict[Err, str] = {
    Err.BAD_REQUEST: "4000",
    Err.MISSING_HEADER: "4101",
    Err.INVALID_HEADER: "4101",
    Err.INVALID_MESSAGE_ID: "4101",
    Err.MISSING_BODY_FIELD: "4102",
    Err.INVALID_BODY: "4102",
    Err.TOKEN_MISSING: "4103",
    Err.TOKEN_INVALID: "4201",
    Err.TOKEN_EXPIRED: "4201",
    Err.INVALID_CREDENTIALS: "4201",
    Err.INVALID_SERVICE_KEY: "4201",
    Err.FORBIDDEN: "4202",
    Err.NOT_FOUND_ROUTE: "4000",
    Err.METHOD_NOT_ALLOWED: "4000",
    Err.DEVICE_NOT_FOUND: "4304",
    # Business Connect documents no device-state codes: a refused command is a bad
    # request body for the device's current state (spec-notes, "device refusals").
    Err.DEVICE_OFFLINE: "4000",
    Err.DEVICE_POWER_OFF: "4102",
    Err.DEVICE_REMOTE_OFF: "4102",
    Err.DEVICE_BUSY_STATE: "4102",
    Err.INVALID_COMMAND: "4102",
    Err.USER_NOT_FOUND: "4301",
    Err.NOT_SUBSCRIBED: "4304",
    Err.ALREADY_SUBSCRIBED: "4314",
    Err.DR_USER_NOT_FOUND: "4301",
    Err.DR_EVENT_NOT_FOUND: "4302",
    Err.DR_TARGET_NOT_FOUND: "4303",
    Err.DR_DEVICE_NOT_FOUND: "4304",
    Err.DR_ZIP_TASK_NOT_FOUND: "4305",
    Err.DR_ZIP_FILE_NOT_FOUND: "4306",
    Err.DR_PARTNER_NOT_FOUND: "4307",
    Err.DR_GROUP_NOT_FOUND: "4308",
    Err.DR_PARTNER_USER_NOT_FOUND: "4313",
    Err.DR_USER_EXISTS: "4309",
    Err.DR_EVENT_EXISTS: "4310",
    Err.DR_TARGET_EXISTS: "4311",
    Err.DR_PARTNER_USER_EXISTS: "4312",
    Err.DR_DEVICE_EXISTS: "4314",
    Err.DR_GROUP_EXISTS: "4315",
    # An authCodeExt already connected is an existing partner (3rd party) user.
    Err.DR_AUTH_CODE_CONNECTED: "4312",
    Err.NOT_IMPLEMENTED: "5000",
    Err.INTERNAL: "5000",
}

# ThinQ platform codes (thinqconnect.thinq_api.ThinQAPIErrorCodes), used by the
# asynchronous API for synchronous refusals and per-device failures in callbacks.
THINQ_CODES = _catalogue(
    ("1000", 400, "Bad request"),
    ("1101", 400, "Missing parameters"),
    ("1102", 400, "Unacceptable parameters"),
    ("1103", 401, "Invalid token"),
    ("1104", 400, "Invalid message id"),
    ("1201", 400, "Not registered admin"),
    ("1202", 400, "Not registered user"),
    ("1203", 400, "Not registered service"),
    ("1204", 400, "Not subscribed event"),
    ("1205", 400, "Device does not exist"),
    ("1206", 400, "Not subscribed push"),
    ("1207", 400, "Already subscribed push"),
    ("1208", 400, "Not registered service by admin"),
    ("1209", 400, "Not registered user in service"),
    ("1210", 400, "Not registered device in service"),
    ("1211", 400, "Not registered device by user"),
    ("1212", 400, "Not owned device"),
    ("1213", 400, "Not registered device"),
    ("1214", 400, "Not subscribable device"),
    ("1216", 400, "Incorrect header"),
    ("1217", 400, "Already deleted device"),
    ("1218", 401, "Invalid token (expired)"),
    ("1219", 400, "Not supported model"),
    ("1220", 400, "Not supported feature"),
    ("1221", 400, "Not supported product"),
    ("1222", 400, "Device not connected"),
    ("1223", 400, "Invalid device status"),
    ("1224", 400, "Invalid device id"),
    ("1225", 400, "Duplicate device id"),
    ("1301", 401, "Invalid service key"),
    ("1302", 404, "Token not found"),
    ("1303", 404, "User not found"),
    ("1304", 403, "Terms not accepted"),
    ("1305", 403, "API not allowed"),
    ("1306", 429, "Exceeded API calls"),
    ("1307", 400, "Country not supported"),
    ("1308", 403, "No control authority"),
    ("1309", 403, "API not allowed"),
    ("1310", 400, "Domain not supported"),
    ("1311", 400, "Bad request format"),
    ("1312", 400, "Exceeded number of event subscriptions"),
    ("2000", 500, "Internal server error"),
    ("2101", 400, "Not supported model"),
    ("2201", 400, "Feature not provided"),
    ("2202", 400, "Not supported product"),
    ("2203", 500, "Model JSON does not exist"),
    ("2205", 400, "Invalid device status"),
    ("2207", 400, "Invalid command"),
    ("2208", 500, "Device control failed"),
    ("2209", 504, "Device response delayed"),
    ("2210", 503, "Retry the request"),
    ("2212", 409, "Device syncing"),
    ("2213", 409, "Retry after deleting the device"),
    ("2214", 500, "Request failed"),
    ("2301", 400, "Command not supported in remote off"),
    ("2302", 400, "Command not supported in state"),
    ("2303", 400, "Command not supported in error"),
    ("2304", 400, "Command not supported in power off"),
    ("2305", 400, "Command not supported in mode"),
)

THINQ_REASONS: dict[Err, str] = {
    Err.BAD_REQUEST: "1000",
    Err.MISSING_HEADER: "1101",
    Err.INVALID_HEADER: "1102",
    Err.INVALID_MESSAGE_ID: "1104",
    Err.MISSING_BODY_FIELD: "1101",
    Err.INVALID_BODY: "1102",
    Err.TOKEN_MISSING: "1103",
    Err.TOKEN_INVALID: "1103",
    Err.TOKEN_EXPIRED: "1218",
    Err.INVALID_CREDENTIALS: "1301",
    Err.INVALID_SERVICE_KEY: "1301",
    Err.FORBIDDEN: "1305",
    Err.NOT_FOUND_ROUTE: "1000",
    Err.METHOD_NOT_ALLOWED: "1000",
    Err.DEVICE_NOT_FOUND: "1205",
    Err.DEVICE_OFFLINE: "1222",
    Err.DEVICE_POWER_OFF: "2304",
    Err.DEVICE_REMOTE_OFF: "2301",
    Err.DEVICE_BUSY_STATE: "2302",
    Err.INVALID_COMMAND: "2207",
    Err.USER_NOT_FOUND: "1303",
    Err.NOT_SUBSCRIBED: "1204",
    Err.ALREADY_SUBSCRIBED: "1207",
    Err.NOT_IMPLEMENTED: "2000",
    Err.INTERNAL: "2000",
}


# ThinQ Connect (what LG's thinqconnect SDK calls): the same ThinQAPIErrorCodes, each at
# the HTTP status LG's developer portal gives it where it states one, else inferred from
# the code's class and the portal's status list (spec-notes TC-05).
def _statuses(*groups: tuple[int, str]) -> dict[str, int]:
    return {code: status for status, codes in groups for code in codes.split()}


# The portal states 0000 -> 500, 1000..1104 -> 400 and 1201 -> 404; the other rows follow
# the code's class (spec-notes TC-05). The titles are the platform's, as above.
CONNECT_STATUSES = _statuses(
    (400, "1000 1101 1102 1103 1104 1207 1214 1216 1217 1219 1220 1221 1222 1223 1224 1225"),
    (400, "1307 1310 1311 1312 2101 2201 2202 2205 2207 2301 2302 2303 2304 2305"),
    (401, "1218 1301 1302 1303 1304 1305 1306 1308 1309"),
    (404, "1201 1202 1203 1204 1205 1206 1208 1209 1210 1211 1212 1213"),
    (500, "0000 2000 2203 2208 2209 2212 2213 2214"),
    (503, "2210"),
)
# 0000 is a refusal here ("unknown error"), the asynchronous API's success (TQ-20).
_TITLES = {"0000": "Unknown error", **{code: info.title for code, info in THINQ_CODES.items()}}
CONNECT_CODES = {
    code: CodeInfo(code, status, _TITLES[code]) for code, status in sorted(CONNECT_STATUSES.items())
}

CONNECT_REASONS: dict[Err, str] = {
    **THINQ_REASONS,
    # A header off its schema (x-country not the user's, x-service-phase): TC-04.
    Err.INVALID_HEADER: "1216",
}


# Reasons whose HTTP status is not the one their code travels with elsewhere: the seed
# documents 405 "Not Allowed" and unknown routes without codes of their own.
STATUS_OVERRIDES: dict[Err, int] = {
    Err.METHOD_NOT_ALLOWED: 405,
    Err.NOT_FOUND_ROUTE: 404,
    Err.NOT_IMPLEMENTED: 501,
}


@dataclass(frozen=True)
class Catalogue:
    """One vendor API's documented codes, and the code each reason travels as.

    ``internal`` is the API's internal-error code: the answer to a reason the API
    documents no code for. A new vendor API adds its ``Catalogue`` to ``CATALOGUES``
    and its envelope to ``error_answers.ENVELOPES``.
    """

    codes: dict[str, CodeInfo]
    reasons: dict[Err, str]
    internal: str


CATALOGUES: dict[Api, Catalogue] = {
    Api.BUSINESS_CONNECT: Catalogue(BC_CODES, BC_REASONS, internal="5000"),
    Api.THINQ_ASYNC: Catalogue(THINQ_CODES, THINQ_REASONS, internal="2000"),
    Api.THINQ_CONNECT: Catalogue(CONNECT_CODES, CONNECT_REASONS, internal="2000"),
}

# The X-Response-Code of a successful answer, per API (the ThinQ asynchronous API's
# 202 carries none: its result codes travel in the callbacks).
SUCCESS_CODES: dict[Api, str] = {Api.BUSINESS_CONNECT: "2000"}

# Refusals caused by the request itself: what the contract report calls violations.
CLIENT_FAULTS = frozenset(
    {
        Err.MISSING_HEADER,
        Err.INVALID_HEADER,
        Err.INVALID_MESSAGE_ID,
        Err.MISSING_BODY_FIELD,
        Err.INVALID_BODY,
        Err.TOKEN_MISSING,
        Err.INVALID_COMMAND,
        Err.NOT_FOUND_ROUTE,
        Err.METHOD_NOT_ALLOWED,
    }
)


def code_for(api: Api, error: ApiError) -> CodeInfo:
    """The documented code an error travels as in ``api`` (a vendor API: one with a
    catalogue; the control API has none and answers the reason's name)."""
    catalogue = CATALOGUES[api]
    if error.vendor_code and error.vendor_code in catalogue.codes:
        return catalogue.codes[error.vendor_code]
    return catalogue.codes[catalogue.reasons.get(error.reason, catalogue.internal)]


def status_for(error: ApiError, info: CodeInfo) -> int:
    """The HTTP status of ``error`` sent as ``info``: a pinned vendor code keeps its own."""
    return info.status if error.vendor_code else STATUS_OVERRIDES.get(error.reason, info.status)


def lookup_code(api: Api, code: str) -> CodeInfo | None:
    """A documented vendor code of ``api``, or None: used to vet ``Prefer: error=``."""
    catalogue = CATALOGUES.get(api)
    return catalogue.codes.get(code) if catalogue else None
