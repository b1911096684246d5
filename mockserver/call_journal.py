"""Journaling a vendor API call: what it asked, what it got, what was wrong.

A ``JournalTap`` wraps a call's ASGI send to keep the raw response body (cut at
BODY_CAP) and the answer's status and headers, then writes one ``JournalEntry`` from
them, the request body the gateway read, and the call's ``RequestRecord``.
"""

from __future__ import annotations

import time

from starlette.types import Message, Send

from mockserver.journal import BODY_CAP, JournalEntry
from mockserver.request_context import RequestRecord
from mockserver.wire import iso_timestamp


class JournalTap:
    def __init__(self, record: RequestRecord, request_body: bytes) -> None:
        self.record = record
        journal = record.runtime.journal
        self.entry = JournalEntry(
            id=journal.next_id(),
            at=iso_timestamp(record.runtime.sandbox.clock.now()),
            api=record.api.value,
            operation_id=record.operation_id,
            caller=record.caller,
            method=record.method,
            path=record.path,
            query=record.query,
            request_headers=record.headers,
            request_body=request_body[:BODY_CAP],
        )
        self._response: list[bytes] = []

    def send(self, send: Send) -> Send:
        async def send_journaled(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.entry.status = message["status"]
                self.entry.response_headers = {
                    k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]
                }
            elif message["type"] == "http.response.body":
                self._response.append(message.get("body", b""))
            await send(message)

        return send_journaled

    def dropped(self) -> None:
        self.entry.status = 0

    def write(self) -> None:
        entry, record = self.entry, self.record
        entry.response_body = b"".join(self._response)[:BODY_CAP]
        entry.violations = record.violations
        entry.fault = record.fault
        entry.response_code = record.response_code or entry.response_headers.get("x-response-code")
        entry.duration_ms = (time.perf_counter() - record.started) * 1000
        record.runtime.journal.add(entry)
