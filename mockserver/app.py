"""Builds the one ASGI app that serves every API of the sandbox.

The gateway (outermost) opens each call's record and hands every request that matches
an operation of ``mounts.MOUNTS`` to the compiled ``pipeline``. connexion's app, built
here with a slim middleware list, serves the Swagger UIs and answers what matches no
operation; its error handlers below put those answers in the called API's envelope.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import connexion
import orjson
from connexion.exceptions import ProblemException, ResolverError
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.spec import Specification
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from lgspecs import mounts
from mockserver import operations
from mockserver.answers import error_answer
from mockserver.dashboard import with_dashboard
from mockserver.errors import ApiError, Err
from mockserver.gateway import Gateway
from mockserver.pipeline import Pipeline
from mockserver.runtime import Runtime

log = logging.getLogger("lgmock")

# Where each API's handlers live (one module per API family), first match wins.
HANDLER_MODULES: dict[mounts.Api, tuple[str, ...]] = {
    mounts.Api.BUSINESS_CONNECT: ("mockserver.handlers.business_connect", "mockserver.handlers.dr"),
    mounts.Api.THINQ_ASYNC: ("mockserver.handlers.thinq",),
    mounts.Api.THINQ_CONNECT: ("mockserver.handlers.connect",),
    mounts.Api.SANDBOX: ("mockserver.handlers.sandbox",),
}


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
    handler.lgmock_stub = True  # type: ignore[attr-defined]
    return handler


# ---------------------------------------------------------------------- errors


def _respond(request: ConnexionRequest, error: ApiError) -> ConnexionResponse:
    answer = error_answer(mounts.api_for_path(request.url.path), error)
    return ConnexionResponse(
        status_code=answer.status,
        body=answer.body,
        headers=answer.headers,
        content_type="application/json",
    )


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
            Err.METHOD_NOT_ALLOWED,
            f"{request.method} is not allowed on {request.url.path}",
            allow=operations.allowed_methods(request.url.path),
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
    # A 500 from the sandbox is always a bug: log it loudly with the traceback. connexion
    # calls this handler outside its except block, so the exception is passed explicitly
    # (log.exception would print "NoneType: None").
    log.error("unhandled error serving %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(request, ApiError(Err.INTERNAL, f"lgmock bug: {type(exc).__name__}: {exc}"))


# ---------------------------------------------------------------------- the app


class QuietMediaTypeChoice(logging.Filter):
    """connexion warns "this operation accepts multiple content types" for the control
    API's scenario upload (JSON or YAML) whenever it looks at that body: nothing a user
    can act on, since the pipeline handles every declared media type."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "accepts multiple content types" not in record.getMessage()


# connexion's middleware, minus what the pipeline does once per operation (request
# validation), what the sandbox does itself (security: tokens are checked with the
# vendor's codes) and what it does not do (response validation). What is left serves
# the Swagger UIs and answers the requests no operation matches (404, 405).
CONNEXION_MIDDLEWARES = [
    ServerErrorMiddleware,
    ExceptionMiddleware,
    SwaggerUIMiddleware,
    RoutingMiddleware,
    LifespanMiddleware,
    ContextMiddleware,
]


class _ValidatedOnce:
    """connexion checks a document against the OpenAPI schema every time it reads one, and at
    start it reads each API's document twice (``add_api``, then the pipeline's binding): half
    of a start's time went to checking the same four documents again. The first reading of a
    document checks it; a later reading of the same document (same bytes after connexion's
    defaults) is known good. A document that differs in any byte is checked as before."""

    def __init__(self) -> None:
        self.check = Specification._validate_spec.__func__  # type: ignore[attr-defined]
        self.known_good: set[bytes] = set()

    def __call__(self, cls: type[Specification], document: dict[str, Any]) -> None:
        try:
            digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)).digest()
        except TypeError:  # a value orjson cannot encode: check it every time
            self.check(cls, document)
            return
        if digest not in self.known_good:
            self.check(cls, document)
            self.known_good.add(digest)


def _check_each_document_once() -> None:
    if not isinstance(Specification.__dict__["_validate_spec"].__func__, _ValidatedOnce):
        Specification._validate_spec = classmethod(_ValidatedOnce())  # type: ignore[assignment]


def create_app(runtime: Runtime) -> ASGIApp:
    _check_each_document_once()
    logging.getLogger("connexion.operations.openapi3").addFilter(QuietMediaTypeChoice())
    app = connexion.AsyncApp(__name__, pythonic_params=True, middlewares=CONNEXION_MIDDLEWARES)
    resolvers = {api: HandlerResolver(*modules) for api, modules in HANDLER_MODULES.items()}
    for mount in mounts.MOUNTS:
        app.add_api(
            mount.connexion_document(),
            base_path=mount.prefix,
            name=mount.name,
            resolver=resolvers[mount.api],
            swagger_ui_options=SwaggerUIOptions(swagger_ui=True, swagger_ui_path="/ui"),
        )
    app.add_error_handler(ApiError, on_api_error)
    app.add_error_handler(ProblemException, on_problem)
    app.add_error_handler(HTTPException, on_problem)
    app.add_error_handler(Exception, on_unexpected)
    return with_dashboard(Gateway(app, runtime, Pipeline(resolvers)), runtime)
