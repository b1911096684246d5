"""The recording proxy: an aiohttp server in front of the upstream, and its callback relay.

Every request is forwarded as it came (method, path, query, headers, body; only the
hop-by-hop headers of the connection are left to each hop), and the upstream's answer
goes back as it came, before anything is judged. Then the exchange is checked
(``drift``) and learned (``learn``).

Callbacks: with ``--callbacks-via URL`` the proxy receives the ThinQ callbacks at
``/_record/callbacks/thinq`` on its own port, checks each against the spec's callback
schemas, learns from it, and relays it to URL (the client's receiver), answering the
upstream with the receiver's own status so the platform's retries still happen. An
upstream that is an lgmock sandbox is told to deliver there for the run (its services'
callback URLs are given back at the end); a real upstream needs the proxy's callback
URL registered for the service (``--callback-url`` when it reaches the proxy through a
tunnel).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from multidict import CIMultiDict

from contract_tests import schemas
from contract_tests.record import scenario_file
from contract_tests.record.drift import DriftChecker, DriftFinding, DriftLog, Exchange, Judgement
from contract_tests.record.learn import Learner
from contract_tests.record.redact import HOP_BY_HOP, Redactor

CALLBACK_PATH = "/_record/callbacks/thinq"
DRIFT_PATH = "/_record/drift"
Emit = Callable[[str], None]


@dataclass
class RecordOptions:
    upstream: str
    out: Path
    apis: tuple[str, ...]
    port: int = 0
    host: str = "127.0.0.1"
    drift: Path | None = None
    max_drift: int = 0
    callbacks_via: str | None = None
    callback_url: str | None = None
    request_timeout: float = 60.0


class Recorder:
    def __init__(self, options: RecordOptions, emit: Emit) -> None:
        self.options = options
        self.upstream = options.upstream.rstrip("/")
        self.redactor = Redactor()
        # Every line printed goes through the redactor: no secret reaches a log in clear.
        self.emit: Emit = lambda text: emit(self.redactor.text(text))
        self.checker = DriftChecker(options.apis, self.redactor)
        self.log = DriftLog(self.upstream)
        self.learner = Learner()
        self.session: ClientSession | None = None
        self.base_url = ""
        self._restore: dict[str, str | None] = {}  # sandbox service -> its callback URL

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(CALLBACK_PATH, self.callback)
        app.router.add_get(DRIFT_PATH, self.drift_document)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        return app

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        raw_path = request.rel_url.raw_path
        query = request.rel_url.raw_query_string
        url = self.upstream + raw_path + (f"?{query}" if query else "")
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() != "host"
        ]
        self.redactor.remember_headers(request.headers)
        body = await request.read()
        started = time.monotonic()
        try:
            async with self.session.request(
                request.method,
                url,
                headers=CIMultiDict(headers),
                data=body or None,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
                status = answer.status
                answer_headers = [
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in answer.raw_headers
                ]
        except (ClientError, TimeoutError) as exc:
            self.emit(f"  upstream unreachable for {request.method} {raw_path}: {exc!r}")
            return web.Response(status=502, text=f"lgmock record: upstream {self.upstream}: {exc}")
        elapsed = time.monotonic() - started
        # The body was read decoded (aiohttp undoes gzip), so its encoding and length go.
        # A body that came without a Content-Type is sent on as application/octet-stream
        # (aiohttp's server, after RFC 9110 8.3); the checks judge the upstream's headers.
        relayed = [
            (name, value)
            for name, value in answer_headers
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding"
        ]
        reply = web.Response(status=status, body=content, headers=CIMultiDict(relayed))
        await reply.prepare(request)
        await reply.write_eof()
        exchange = Exchange(
            method=request.method,
            path=request.rel_url.path,
            query=query,
            request_headers=headers,
            request_body=body,
            status=status,
            response_headers=answer_headers,
            response_body=content,
            upstream_url=url,
            elapsed=elapsed,
        )
        self.observe(exchange)
        return reply

    def observe(self, exchange: Exchange) -> None:
        """Judge and learn one exchange; nothing here may break the relaying."""
        try:
            self.redactor.remember_json(exchange.json())
            judgement = self.checker.judge(exchange)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001  (one odd answer must not stop it)
            self.emit(f"  could not check {exchange.method} {exchange.path}: {exc!r}")
            return
        call = f"{exchange.method} {exchange.path}"
        self.log.add(judgement, call)
        self._print(exchange, judgement)
        try:
            self.learner.learn(exchange, judgement)
        except Exception as exc:  # noqa: BLE001
            self.emit(f"  could not learn from {call}: {exc!r}")
        if judgement.findings:
            self._write_drift()

    def _print(self, exchange: Exchange, judgement: Judgement) -> None:
        name = judgement.operation_id or "(not in the specs, unchecked)"
        verdict = f"{len(judgement.findings)} drift" if judgement.findings else "ok"
        self.emit(f"{exchange.status} {name} {exchange.method} {exchange.path}: {verdict}")
        for finding in judgement.findings:
            self._print_finding(finding)

    def _print_finding(self, finding: DriftFinding) -> None:
        self.emit(f"  {finding.line()}")
        for line in finding.spec_says.splitlines()[:4]:
            self.emit(f"    {line}")
        self.emit(f"    reproduce: {finding.reproduce}")

    # ------------------------------------------------------------------ callbacks
    async def callback(self, request: web.Request) -> web.Response:
        content = await request.read()
        try:
            body: Any = json.loads(content)
        except ValueError:
            body = None
        problems = schemas.thinq_problems(body) if body is not None else ["the body is not JSON"]
        findings = [self._callback_finding(body, content, problem) for problem in problems]
        self.log.add_callback_findings(findings)
        kind = _push_type(body)
        self.emit(
            f"callback {kind} {_device_of(body)}: {len(findings)} drift"
            if findings
            else f"callback {kind} {_device_of(body)}: ok"
        )
        for finding in findings:
            self._print_finding(finding)
        if findings:
            self._write_drift()
        try:
            self.learner.learn_callback(body, problems)
        except Exception as exc:  # noqa: BLE001
            self.emit(f"  could not learn from a callback: {exc!r}")
        return await self._relay(request, content)

    async def _relay(self, request: web.Request, content: bytes) -> web.Response:
        target = self.options.callbacks_via
        if target is None:
            return web.Response(status=200)
        assert self.session is not None
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() != "host"
        ]
        try:
            async with self.session.post(
                target, headers=CIMultiDict(headers), data=content
            ) as answer:
                text = await answer.read()
                return web.Response(status=answer.status, body=text)
        except (ClientError, TimeoutError) as exc:
            self.emit(f"  callback not relayed to {target}: {exc}")
            # The client's receiver is down: the upstream is told so and will retry.
            return web.Response(status=502, text=f"lgmock record: {target} unreachable")

    def _callback_finding(self, body: Any, content: bytes, problem: str) -> DriftFinding:
        name = (
            "receiveDeviceCallback"
            if isinstance(body, dict) and "requestId" in body
            else ("receiveDeviceMessage")
        )
        return DriftFinding(
            api="thinq",
            operation=f"callback {name}",
            operation_id=name,
            check="callback_schema_conformance",
            title="Callback does not match the spec's schema",
            received=self.redactor.body(content),
            spec_says=self.redactor.text(problem),
            reproduce=self.redactor.curl(
                "POST",
                self.options.callbacks_via or "$YOUR_RECEIVER",
                [("Content-Type", "application/json")],
                content,
            ),
            call=f"POST {CALLBACK_PATH}",
            at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        )

    async def drift_document(self, _: web.Request) -> web.Response:
        return web.json_response(self.log.document())

    # ------------------------------------------------------------------ the run
    async def run(self, stop: asyncio.Event) -> int:
        options = self.options
        self.session = ClientSession(
            timeout=ClientTimeout(total=options.request_timeout),
            # Forwarded as the client sent them: no headers of aiohttp's own added.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        # Requests still open at the stop get a few seconds, not aiohttp's minute: the
        # files are what the user is waiting for.
        site = web.TCPSite(runner, options.host, options.port, shutdown_timeout=5.0)
        await site.start()
        port = runner.addresses[0][1]
        self.base_url = f"http://{options.host}:{port}"
        self.emit(f"lgmock record: {self.base_url} -> {self.upstream} ({', '.join(options.apis)})")
        self.emit(f"  point the client at {self.base_url} instead of the upstream")
        try:
            await self._route_callbacks()
            await stop.wait()
        finally:
            await self._give_back_callbacks()
            await runner.cleanup()
            await self.session.close()
        return self.finish()

    async def _route_callbacks(self) -> None:
        if self.options.callbacks_via is None:
            return
        receiver = self.options.callback_url or self.base_url + CALLBACK_PATH
        services = await self._sandbox_services()
        if services is None:
            self.emit(
                f"  callbacks: register {receiver} as your ThinQ service's callback URL; "
                f"they are checked and relayed to {self.options.callbacks_via}"
            )
            return
        assert self.session is not None
        for service_id, previous in services.items():
            async with self.session.patch(
                f"{self.upstream}/_sandbox/services/{service_id}", json={"callbackUrl": receiver}
            ) as answer:
                if answer.status == 200:
                    self._restore[service_id] = previous
        self.emit(
            f"  callbacks: the sandbox upstream delivers to {receiver} for this run "
            f"({len(self._restore)} services); relayed to {self.options.callbacks_via}"
        )

    async def _sandbox_services(self) -> dict[str, str | None] | None:
        """An lgmock upstream's ThinQ services and their callback URLs; None for another."""
        assert self.session is not None
        try:
            async with self.session.get(f"{self.upstream}/_sandbox/health") as answer:
                if answer.status != 200:
                    return None
            async with self.session.get(f"{self.upstream}/_sandbox/state") as answer:
                state = await answer.json(content_type=None)
        except (ClientError, TimeoutError, ValueError):
            return None
        return {
            s["serviceId"]: s.get("callbackUrl")
            for s in state.get("services") or []
            if isinstance(s, dict) and isinstance(s.get("serviceId"), str)
        }

    async def _give_back_callbacks(self) -> None:
        assert self.session is not None
        for service_id, previous in self._restore.items():
            try:
                async with self.session.patch(
                    f"{self.upstream}/_sandbox/services/{service_id}",
                    json={"callbackUrl": previous},
                ):
                    pass
            except (ClientError, TimeoutError) as exc:
                self.emit(f"  could not give {service_id} its callback URL back: {exc!r}")

    def finish(self) -> int:
        """Write the scenario and the drift files, print the summary, return the exit code."""
        for service in self.learner.services.values():
            service.callback_url = self.options.callbacks_via
        written = scenario_file.write(self.learner, self.upstream, self.options.out)
        drift_files = self._write_drift()
        found = len(self.log.findings)
        self.emit(
            f"lgmock record: {sum(self.log.calls.values())} calls and {self.log.callbacks} "
            f"callbacks checked, {found} drift findings"
        )
        self.emit(
            f"  scenario {self.options.out}: {written.devices} devices, "
            f"{len(written.replayed)} replayed as recorded, {len(written.notes)} notes of what "
            "was not learned"
        )
        for name in written.replayed:
            self.emit(f"  replayed as recorded: device {name}")
        if drift_files:
            self.emit("  drift: " + ", ".join(str(path) for path in drift_files))
        if found > self.options.max_drift:
            self.emit(f"  more drift than --max-drift {self.options.max_drift}: exit 1")
            return 1
        return 0

    def _write_drift(self) -> list[Path]:
        if self.options.drift is None:
            return []
        try:
            return self.log.write(self.options.drift)
        except OSError as exc:
            self.emit(f"  cannot write {self.options.drift}: {exc.strerror}")
            return []


def serve(options: RecordOptions, emit: Emit) -> int:
    """Run the proxy until SIGINT or SIGTERM; then write everything and return the exit code."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await Recorder(options, emit).run(stop)

    return asyncio.run(main())


def _push_type(body: Any) -> str:
    inner = body.get("response") if isinstance(body, dict) else None
    kind = inner.get("pushType") if isinstance(inner, dict) else None
    return str(kind) if kind else "(no pushType)"


def _device_of(body: Any) -> str:
    inner = body.get("response") if isinstance(body, dict) else None
    device = inner.get("deviceId") if isinstance(inner, dict) else None
    return str(device) if device else ""
