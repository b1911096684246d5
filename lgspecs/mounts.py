"""The mount table: which API is served at which URL prefix, from which spec document.

One table for everyone who must agree on it: the server (its app, route table, request
pipeline and error rendering) and the contract kit (which builds a server's URLs from
it). It lives beside the documents, not in the server, so the kit never imports the
server to learn where an API sits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from lgspecs.documents import (
    Document,
    connect_spec,
    for_connexion,
    repaired_spec,
    sandbox_spec,
    thinq_spec,
)


class Api(enum.Enum):
    """The four APIs one lgmock server answers; the value names them in the journal."""

    BUSINESS_CONNECT = "bc"
    THINQ_ASYNC = "thinq"
    THINQ_CONNECT = "connect"
    SANDBOX = "sandbox"


@dataclass(frozen=True)
class Mount:
    """One API of the server: its URL prefix and the spec document served there."""

    api: Api
    name: str  # connexion's name for the API, and its Swagger UI's
    prefix: str
    document: Callable[[], Document]

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def served_path(self, spec_path: str) -> str:
        """The URL path of a spec path: the ThinQ spec's paths already begin with /v2."""
        if spec_path.startswith(self.prefix + "/"):
            return spec_path
        return self.prefix + spec_path

    def connexion_document(self) -> Document:
        return for_connexion(self.document(), mount=self.prefix)


# The one table of what is served where: the app, the request pipeline, error rendering,
# the operation lookup and the contract kit all read it.
MOUNTS: tuple[Mount, ...] = (
    Mount(Api.BUSINESS_CONNECT, "business-connect", "/bc", repaired_spec),
    Mount(Api.THINQ_ASYNC, "thinq-async", "/v2", thinq_spec),
    # What LG's thinqconnect SDK calls: its base URL becomes http://HOST:PORT/connect.
    Mount(Api.THINQ_CONNECT, "thinq-connect", "/connect", connect_spec),
    Mount(Api.SANDBOX, "sandbox", "/_sandbox", sandbox_spec),
)
# Beside the APIs, not one of them: the dashboard's pages (no spec, never journaled).
DASHBOARD_PREFIX = "/_dashboard"


def mount_for(path: str) -> Mount | None:
    return next((mount for mount in MOUNTS if mount.owns(path)), None)


def api_for_path(path: str) -> Api:
    """The API a request path belongs to; anything outside a vendor mount is the sandbox's."""
    mount = mount_for(path)
    return mount.api if mount else Api.SANDBOX


def mount_of(api: Api) -> Mount:
    return next(mount for mount in MOUNTS if mount.api is api)
