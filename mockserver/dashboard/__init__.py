"""The live web dashboard that ``lgmock serve`` serves at /_dashboard/.

``with_dashboard`` puts it in front of the API app: dashboard paths go to the dashboard
and never reach the gateway, so they are never journaled, never matched by fault rules
and never counted in a client's contract report. Everything else goes on unchanged.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.dashboard.routes import PREFIX, build
from mockserver.runtime import Runtime

__all__ = ["PREFIX", "with_dashboard"]


def with_dashboard(api: ASGIApp, runtime: Runtime) -> ASGIApp:
    dashboard = build(runtime)

    async def app(scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] == "http" and (
            scope["path"] == PREFIX or scope["path"].startswith(PREFIX + "/")
        ):
            return await dashboard(scope, receive, send)
        # The API app may return a value (the gateway's "drop the connection").
        return await api(scope, receive, send)

    return app
