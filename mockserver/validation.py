"""Request checks compiled once per operation, refusing the way the vendor APIs refuse.

connexion reads the spec (``pipeline.py`` takes each operation's resolved parameters
and body schema from it) and supplies the OpenAPI 3.0 dialect of JSON Schema
(``Draft4RequestValidator``: ``nullable``). What happens per request is only the
compiled check: a fault becomes an ``ApiError`` naming the header or body path, which
``error_answers.respond`` renders with the vendor's code and envelope.

Integers follow OpenAPI 3.1 / JSON Schema 2020-12, which the vendor document is written
in: ``1.0`` is an integer. The served 3.0 form must not narrow what the vendor allows,
so the Draft 4 type rule for integers (``1.0`` is not one) is replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema_rs
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import is_null, is_nullable
from jsonschema import Draft202012Validator, ValidationError, validators

from mockserver import json_codec
from mockserver.errors import ApiError, Err

# Headers whose faults have codes of their own rather than the generic header code.
TOKEN_HEADERS = {"x-api-token"}
MESSAGE_ID_HEADERS = {"x-message-id"}
LOCATIONS = ("path", "query", "header", "cookie")

RequestValidator = validators.extend(
    Draft4RequestValidator, type_checker=Draft202012Validator.TYPE_CHECKER
)


def compile_schema(schema: dict[str, Any]) -> Any:
    return RequestValidator(schema, format_checker=RequestValidator.FORMAT_CHECKER)


# RFC 8259, section 2: the only characters a JSON text may have around its value.
JSON_WHITESPACE = " \t\n\r"


class CompiledSchema:
    """A schema compiled twice: jsonschema_rs answers "valid?" in a fraction of a
    microsecond; jsonschema, about fifteen times slower, says what is wrong and has
    the last word, so the rules stay the ones above (``nullable``, 2020-12 integers).

    jsonschema_rs reads the schema as plain Draft 4, which is stricter than the rules
    above (it knows no ``nullable``, and ``1.0`` is no Draft 4 integer), so a value it
    refuses is asked again of jsonschema; it never accepts what jsonschema refuses.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self._python = compile_schema(schema)
        try:
            self._fast: Any = jsonschema_rs.Draft4Validator(schema, validate_formats=True)
        except Exception:  # a schema jsonschema_rs cannot compile: jsonschema alone
            self._fast = None

    def first_error(self, value: Any) -> ValidationError | None:
        if self._fast is not None and self._fast.is_valid(value):
            return None
        return next(iter(self._python.iter_errors(value)), None)


class ParameterChecks:
    """Every declared parameter of one operation, each with its compiled validator."""

    def __init__(self, parameters: list[dict[str, Any]]) -> None:
        ordered = sorted(parameters, key=lambda param: LOCATIONS.index(param["in"]))
        self._checks = [
            (param["in"], param, CompiledSchema(param.get("schema", param))) for param in ordered
        ]

    def check(self, values: Mapping[str, Mapping[str, Any]]) -> None:
        """``values[location][name]``: the request's path, query, header and cookie values."""
        for location, param, validator in self._checks:
            value = values[location].get(_key(location, param["name"]))
            if value is None:
                if param.get("required"):
                    raise _parameter_error(location, param["name"], None, "missing")
                continue
            if is_nullable(param) and is_null(value):
                continue
            error = validator.first_error(value)
            if error is not None:
                raise _parameter_error(location, param["name"], value, str(error))


def _key(location: str, name: str) -> str:
    return name.lower() if location == "header" else name


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


ABSENT = object()  # no body bytes at all, as opposed to a JSON `null`


class JSONBodyCheck:
    """One operation's JSON request body: parsed, then checked against its schema."""

    def __init__(self, schema: dict[str, Any], *, required: bool, nullable: bool) -> None:
        self._schema = CompiledSchema(schema)
        self._required = required
        self._nullable = nullable

    def parse(self, raw: bytes, encoding: str = "utf-8") -> Any:
        """The body's JSON value, ABSENT when the request has no body, or the refusal."""
        if not raw:
            return ABSENT
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ApiError(
                Err.INVALID_BODY, f"request body is not valid {encoding}", field="body"
            ) from exc
        # JSON's own whitespace only: str.strip() also takes \x1c-\x1f, \x85, NBSP and
        # the like, which would let a body of them pass for no body at all.
        if not text.strip(JSON_WHITESPACE):
            return ABSENT
        try:
            return json_codec.loads(text)
        except json_codec.DecodeError as exc:
            raise ApiError(
                Err.INVALID_BODY, f"request body is not valid JSON: {exc}", field="body"
            ) from exc

    def check(self, body: Any) -> Any:
        """The value the handler receives (None for an absent optional body)."""
        if body is ABSENT:
            # An absent optional body is fine (event-async's `expire` may be left out).
            if self._required:
                raise ApiError(
                    Err.MISSING_BODY_FIELD, "a JSON request body is required", field="body"
                )
            return None
        if body is None and self._nullable:
            return None
        # A JSON `null` is a body, and it is checked like any other: where the schema
        # asks for an object, `null` is refused with the API's body code.
        error = self._schema.first_error(body)
        if error is not None:
            raise _body_error(error)
        return body


def _body_error(exc: ValidationError) -> ApiError:
    path = "body" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
    if exc.validator == "required":
        # jsonschema reports a missing property at its parent: name the property itself.
        missing = exc.message.split("'")[1] if "'" in exc.message else ""
        field = f"{path}.{missing}" if missing else path
        return ApiError(Err.MISSING_BODY_FIELD, f"{field} is required", field=field)
    return ApiError(Err.INVALID_BODY, f"{path}: {exc.message}", field=path)
