"""The record of one HTTP call: set by the outermost layer, filled by the inner ones.

The gateway (``gateway.py``) opens a ``RequestRecord`` for every HTTP request before any
other code runs and closes it after the answer is sent. Inner layers (the request
pipeline, the error renderer, handlers) read the call's facts from it and add what they
decide through its methods: which code the answer carries, what the client got wrong,
which fault shaped the answer. Nothing inner imports the gateway, and nothing outer
reaches into an inner layer's state: this record is the one interface between them.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lgspecs.mounts import Api

if TYPE_CHECKING:
    from mockserver.runtime import Runtime


@dataclass(eq=False)
class RequestRecord:
    """One call as the layers of the server see it.

    The outer layer sets the first block; inner layers fill the second through the
    methods below, never by assignment from outside.
    """

    request_id: str
    api: Api
    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased, as read once from the ASGI scope
    runtime: Runtime
    base_url: str = ""  # scheme://host[:port] the client used, for URLs pointing back here
    started: float = field(default_factory=time.perf_counter)
    operation_id: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    caller: str | None = None  # partner or service id, as the journal names the caller

    response_code: str | None = None
    violations: list[dict[str, str]] = field(default_factory=list)
    fault: str | None = None

    # ------------------------------------------------------------------ reading
    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def message_id(self) -> str | None:
        return self.headers.get("x-message-id")

    # ------------------------------------------------------------------ filling
    def answered_with(self, code: str) -> None:
        """The vendor code of the answer (its X-Response-Code)."""
        self.response_code = code

    def violated(self, code: str, field_name: str, message: str) -> None:
        """Something the client sent broke the contract: the contract report lists it."""
        self.violations.append({"code": code, "field": field_name, "message": message})

    def faulted(self, label: str) -> None:
        """An injected fault (Prefer or a fault rule) shaped the answer."""
        self.fault = label


_current: ContextVar[RequestRecord] = ContextVar("lgmock_request")


def begin(record: RequestRecord) -> Token[RequestRecord]:
    return _current.set(record)


def end(token: Token[RequestRecord]) -> None:
    _current.reset(token)


def current() -> RequestRecord:
    """The call being served; LookupError outside a request."""
    return _current.get()


def current_or_none() -> RequestRecord | None:
    return _current.get(None)
