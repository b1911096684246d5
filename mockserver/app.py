"""Builds the one ASGI app that serves every API of the sandbox.

connexion routes and validates each spec (Business Connect at /bc, the control API at
/_sandbox); an outer ASGI layer gives every call its request id and sandbox, and the
error handlers below turn every refusal, connexion's own included, into the envelope
of the API that was called.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import connexion
from connexion.exceptions import ProblemException, ResolverError
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from mockserver import specs
from mockserver.dashboard import with_dashboard
from mockserver.errors import ApiError, Err, api_for_path, new_message_id, render_error
from mockserver.gateway import Gateway, note_refusal
from mockserver.handlers.context import current_request_id, current_runtime
from mockserver.runtime import Runtime
from mockserver.validation import validator_map

log = logging.getLogger("lgmock")

BC_BASE = "/bc"
THINQ_BASE = "/v2"
SANDBOX_BASE = "/_sandbox"


def snake_case(operation_id: str) -> str:
    # createAPIToken -> create_api_token: split before a capital that follows a lower
    # case letter, and inside a run of capitals before its last one.
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation_id)
    return words.replace("-", "_").lower()


class HandlerResolver(Resolver):
    """operationId ``getStatusOfDevice`` -> ``<module>.get_status_of_device``.

    An API's handlers may be split over several modules (one per API family); the first
    module that defines the function wins. An operation without a handler yet answers
    501 in the vendor's envelope, naming itself, instead of stopping the server: it
    stays visibly missing.
    """

    def __init__(self, *modules: str) -> None:
        super().__init__()
        self.modules = modules

    def resolve_operation_id(self, operation: Any) -> str:
        return snake_case(operation.operation_id)

    def resolve_function_from_operation_id(self, operation_id: str) -> Any:
        for module in self.modules:
            try:
                return super().resolve_function_from_operation_id(f"{module}.{operation_id}")
            except ResolverError:
                continue
        return _not_implemented(operation_id)


def _not_implemented(name: str) -> Any:
    async def handler(*_args: Any, **_kwargs: Any) -> None:
        raise ApiError(Err.NOT_IMPLEMENTED, f"lgmock does not implement {name} yet")

    handler.__name__ = name
    return handler


# ---------------------------------------------------------------------- errors


def _respond(request: ConnexionRequest, error: ApiError) -> ConnexionResponse:
    path = request.url.path
    rendered = render_error(
        api_for_path(path),
        error,
        path=path,
        message_id=request.headers.get("x-message-id"),
        request_id=current_request_id.get() or new_message_id(),
        timestamp=_timestamp(),
    )
    note_refusal(error, rendered.headers.get("X-Response-Code", ""))
    return ConnexionResponse(
        status_code=rendered.status,
        body=json.dumps(rendered.body, ensure_ascii=False).encode(),
        headers=rendered.headers,
        content_type="application/json",
    )


def _timestamp() -> str:
    from mockserver.errors import iso_timestamp

    try:
        return iso_timestamp(current_runtime.get().sandbox.clock.now())
    except LookupError:
        return iso_timestamp()


def on_api_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ApiError)
    return _respond(request, exc)


def on_problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """connexion's own refusals (routing, media type, body presence) in vendor form."""
    status = getattr(exc, "status_code", None) or getattr(exc, "status", 400)
    detail = str(getattr(exc, "detail", "") or exc)
    if status == 404:
        error = ApiError(
            Err.NOT_FOUND_ROUTE, f"no operation at {request.method} {request.url.path}"
        )
    elif status == 405:
        error = ApiError(
            Err.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}"
        )
    elif status == 415:
        error = ApiError(
            Err.INVALID_HEADER,
            f"Content-Type must be application/json ({detail})",
            field="Content-Type",
        )
    elif status in (400, 422):
        error = ApiError(Err.INVALID_BODY, detail or "invalid request", field="body")
    else:
        log.error("unexpected connexion problem %s: %s", status, detail)
        error = ApiError(Err.INTERNAL, detail)
    return _respond(request, error)


def on_unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    # A 500 from the sandbox is always a bug: log it loudly with the traceback.
    log.exception("unhandled error serving %s %s", request.method, request.url.path)
    return _respond(request, ApiError(Err.INTERNAL, f"lgmock bug: {type(exc).__name__}: {exc}"))


# ---------------------------------------------------------------------- the app


def create_app(runtime: Runtime) -> ASGIApp:
    app = connexion.AsyncApp(__name__, pythonic_params=True)
    common: dict[str, Any] = {
        "validator_map": validator_map(),
        "swagger_ui_options": SwaggerUIOptions(swagger_ui=True, swagger_ui_path="/ui"),
    }
    app.add_api(
        specs.for_connexion(specs.repaired_spec()),
        base_path=BC_BASE,
        name="business-connect",
        resolver=HandlerResolver("mockserver.handlers.business_connect", "mockserver.handlers.dr"),
        **common,
    )
    app.add_api(
        specs.for_connexion(specs.thinq_spec(), mount=THINQ_BASE),
        base_path=THINQ_BASE,
        name="thinq-async",
        resolver=HandlerResolver("mockserver.handlers.thinq"),
        **common,
    )
    app.add_api(
        specs.for_connexion(specs.sandbox_spec()),
        base_path=SANDBOX_BASE,
        name="sandbox",
        resolver=HandlerResolver("mockserver.handlers.sandbox"),
        **common,
    )
    app.add_error_handler(ApiError, on_api_error)
    app.add_error_handler(ProblemException, on_problem)
    app.add_error_handler(HTTPException, on_problem)
    app.add_error_handler(Exception, on_unexpected)
    return with_dashboard(Gateway(app, runtime), runtime)
