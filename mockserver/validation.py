"""connexion's request validators, made to refuse the way the vendor APIs refuse.

connexion finds the fault (a missing header, a body that breaks the schema); these
subclasses only change how it is reported: an ``ApiError`` naming the header or body
path, which ``errors.py`` renders with the vendor's code and envelope instead of
connexion's generic problem+json.
"""

from __future__ import annotations

import json
from typing import Any

from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP
from connexion.validators.json import JSONRequestBodyValidator
from connexion.validators.parameter import ParameterValidator
from jsonschema import Draft4Validator, ValidationError

from mockserver.errors import ApiError, Err

# Headers whose faults have codes of their own rather than the generic header code.
TOKEN_HEADERS = {"x-api-token"}
MESSAGE_ID_HEADERS = {"x-message-id"}


class VendorParameterValidator(ParameterValidator):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # connexion builds a fresh jsonschema validator (after a deep copy of the
        # parameter) for every parameter of every request; compiling them once here
        # was about a sixth of a GET's CPU time (benchmarks/README.md).
        self._checks = [
            (location, param, _compiled(param))
            for location in ("path", "query", "header", "cookie")
            for param in self.parameters.get(location, [])
        ]

    def validate_request(self, request: Any) -> None:
        for location, param, validator in self._checks:
            value = _raw_value(location, param, request)
            if value is None:
                if param.get("required"):
                    raise _parameter_error(location, param["name"], None, "missing")
                continue
            if is_nullable(param) and is_null(value):
                continue
            error = next(iter(validator.iter_errors(value)), None)
            if error is not None:
                raise _parameter_error(location, param["name"], value, str(error))


def _compiled(param: dict[str, Any]) -> Draft4Validator:
    return Draft4Validator(
        param.get("schema", param), format_checker=Draft4Validator.FORMAT_CHECKER
    )


def _raw_value(location: str, param: dict[str, Any], request: Any) -> Any:
    name = param["name"]
    if location == "path":
        return request.path_params.get(name.replace("-", "_"))
    if location == "query":
        return request.query_params.get(name)
    if location == "header":
        return request.headers.get(name)
    return request.cookies.get(name)


def _parameter_error(location: str, name: str, value: Any, fault: str) -> ApiError:
    lowered = name.lower()
    missing = value is None
    if lowered in TOKEN_HEADERS:
        reason = Err.TOKEN_MISSING
    elif lowered in MESSAGE_ID_HEADERS and not missing:
        reason = Err.INVALID_MESSAGE_ID
    elif location == "header":
        reason = Err.MISSING_HEADER if missing else Err.INVALID_HEADER
    else:
        reason = Err.BAD_REQUEST
    if missing:
        message = f"{location} parameter {name} is required"
    else:
        # jsonschema's first line says what is wrong without the schema dump that follows.
        message = f"{location} parameter {name}: {fault.splitlines()[0]}"
    return ApiError(reason, message, field=name)


class VendorJSONBodyValidator(JSONRequestBodyValidator):
    async def _parse(self, stream: Any, scope: Any) -> Any:
        raw = b"".join([message async for message in stream])
        try:
            body = raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            raise ApiError(
                Err.INVALID_BODY, f"request body is not valid {self._encoding}", field="body"
            ) from exc
        if not body:
            return None
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise ApiError(
                Err.INVALID_BODY, f"request body is not valid JSON: {exc}", field="body"
            ) from exc

    def _validate(self, body: Any) -> dict | None:
        if body is None:
            # connexion hands an absent optional body over as None; only a required one
            # is a fault (event-async's `expire` body, for one, may be left out).
            if self._required and not self._nullable:
                raise ApiError(
                    Err.MISSING_BODY_FIELD, "a JSON request body is required", field="body"
                )
            return None
        try:
            return self._validator.validate(body)
        except ValidationError as exc:
            raise _body_error(exc) from exc


def _body_error(exc: ValidationError) -> ApiError:
    path = "body" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
    if exc.validator == "required":
        # jsonschema reports a missing property at its parent: name the property itself.
        missing = exc.message.split("'")[1] if "'" in exc.message else ""
        field = f"{path}.{missing}" if missing else path
        return ApiError(Err.MISSING_BODY_FIELD, f"{field} is required", field=field)
    return ApiError(Err.INVALID_BODY, f"{path}: {exc.message}", field=path)


def validator_map() -> dict[str, Any]:
    validators = dict(VALIDATOR_MAP)
    validators["parameter"] = VendorParameterValidator
    body = type(VALIDATOR_MAP["body"])(dict(VALIDATOR_MAP["body"]))
    body["*/*json"] = VendorJSONBodyValidator
    validators["body"] = body
    return validators
