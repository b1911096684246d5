"""The dashboard's pages and fragments under /_dashboard/ (server-rendered, Jinja2 + htmx).

Pages render what the sandbox holds now; fragments re-render one part of a page (a
table) when htmx asks, on a filter change or a live event. Nothing here changes state:
the browser sends every action to the control API (/_sandbox/...) itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from lgspecs import mounts
from mockserver.dashboard import views
from mockserver.dashboard.live import LiveFeed
from mockserver.runtime import Runtime

PREFIX = mounts.DASHBOARD_PREFIX
# The coverage page is the contract kit's client report; the kit adds it through this
# entry point group, so the server never imports the kit (tests/contract/test_independence.py).
REPORTS_GROUP = "lgmock.reports"


def coverage_report() -> Callable[[list[dict[str, Any]]], dict[str, Any]] | None:
    """The kit's report of a journal (`lgmock contract report`'s numbers), if installed."""
    from importlib.metadata import entry_points

    found = [entry for entry in entry_points(group=REPORTS_GROUP) if entry.name == "coverage"]
    return found[0].load() if found else None


HERE = Path(__file__).parent


def build(runtime: Runtime) -> Starlette:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["P"] = PREFIX
    templates.env.filters["show"] = views.show_value
    templates.env.filters["inbox_recipient"] = views.inbox_recipient
    feed = LiveFeed(runtime)

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context)

    def query(request: Request, name: str) -> str:
        return request.query_params.get(name, "").strip()

    # ------------------------------------------------------------------ devices
    def page_number(request: Request) -> int:
        # "goto" is the pager button pressed; "page" the page shown until then.
        try:
            return int(query(request, "goto") or query(request, "page") or 1)
        except ValueError:
            return 1

    async def devices(request: Request) -> Response:
        sandbox = runtime.sandbox
        chosen = views.from_query(views.DeviceFilter, request.query_params)
        return page(
            request,
            "devices.html",
            page=views.device_page(sandbox, chosen, page_number(request)),
            chosen=chosen,
            partners=sorted(sandbox.accounts.partners),
            users=sorted(sandbox.accounts.users),
            types=sorted({d.device_type for d in sandbox.devices.infos()}),
        )

    async def device_rows(request: Request) -> Response:
        chosen = views.from_query(views.DeviceFilter, request.query_params)
        return page(
            request,
            "_device_rows.html",
            page=views.device_page(runtime.sandbox, chosen, page_number(request)),
        )

    def device_view(request: Request, template: str) -> Response:
        found = runtime.sandbox.devices.devices.get(request.path_params["device_id"])
        if found is None:
            return page(request, "missing.html", what=request.path_params["device_id"])
        return page(
            request,
            template,
            device=views.device_row(found),
            push_codes=found.profile.push_codes,
            power=views.power_actions(found),
            attributes=views.attribute_views(found),
            mark=views.VALUE_MARK,
            status=json.dumps(found.status, indent=2, ensure_ascii=False),
        )

    async def device(request: Request) -> Response:
        return device_view(request, "device.html")

    async def device_status(request: Request) -> Response:
        return device_view(request, "_device_status.html")

    # ------------------------------------------------------------------ requests
    async def requests_page(request: Request) -> Response:
        chosen = views.from_query(views.JournalFilter, request.query_params)
        return page(
            request,
            "requests.html",
            rows=views.journal_rows(runtime.journal, chosen),
            chosen=chosen,
            apis=views.vendor_apis(),
            operations=views.vendor_operations(),
            cap=runtime.journal.cap,
        )

    async def request_rows(request: Request) -> Response:
        try:
            after = int(query(request, "after") or 0)
        except ValueError:
            after = 0
        return page(
            request,
            "_request_rows.html",
            rows=views.journal_rows(
                runtime.journal,
                views.from_query(views.JournalFilter, request.query_params),
                after=after,
                limit=views.LIVE_ROWS if after else views.PAGE_SIZE,
            ),
        )

    async def request_detail(request: Request) -> Response:
        entry = views.find_entry(runtime.journal, int(request.path_params["entry_id"]))
        if entry is None:
            return HTMLResponse("<p>This entry has left the journal (it keeps the newest).</p>")
        return page(
            request,
            "_request_detail.html",
            entry=entry,
            request_body=views.pretty_body(entry.request_body),
            response_body=views.pretty_body(entry.response_body),
            curl=views.curl_command(entry, str(request.base_url)),
        )

    # ------------------------------------------------------------------ callbacks
    async def callbacks(request: Request) -> Response:
        chosen = views.from_query(views.DeliveryFilter, request.query_params)
        return page(
            request,
            "callbacks.html",
            rows=views.delivery_rows(runtime.deliveries, chosen),
            chosen=chosen,
        )

    async def callback_rows(request: Request) -> Response:
        return page(
            request,
            "_callback_rows.html",
            rows=views.delivery_rows(
                runtime.deliveries, views.from_query(views.DeliveryFilter, request.query_params)
            ),
        )

    # ------------------------------------------------------------------ faults, clock
    async def faults(request: Request) -> Response:
        return page(
            request,
            "faults.html",
            rules=runtime.sandbox.faults.export(),
            clock=runtime.sandbox.clock.to_dict(),
            operations=views.vendor_operations(),
            codes=views.documented_codes(),
        )

    async def fault_rows(request: Request) -> Response:
        return page(request, "_fault_rows.html", rules=runtime.sandbox.faults.export())

    async def clock(request: Request) -> Response:
        return page(request, "_clock.html", clock=runtime.sandbox.clock.to_dict())

    # ------------------------------------------------------------------ coverage
    async def coverage(request: Request) -> Response:
        report_of = coverage_report()
        report = report_of(runtime.journal.export()) if report_of is not None else None
        return page(request, "coverage.html", report=report)

    async def events(_request: Request) -> Response:
        return StreamingResponse(
            feed.stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def home(_request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/devices", status_code=307)

    return Starlette(
        routes=[
            Mount(
                PREFIX,
                routes=[
                    Route("/", home),
                    Route("/devices", devices),
                    Route("/devices/rows", device_rows),
                    Route("/devices/{device_id}", device),
                    Route("/devices/{device_id}/status", device_status),
                    Route("/requests", requests_page),
                    Route("/requests/rows", request_rows),
                    Route("/requests/{entry_id:int}", request_detail),
                    Route("/callbacks", callbacks),
                    Route("/callbacks/rows", callback_rows),
                    Route("/faults", faults),
                    Route("/faults/rows", fault_rows),
                    Route("/clock", clock),
                    Route("/coverage", coverage),
                    Route("/events", events),
                    Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
                ],
            )
        ]
    )
