"""DR data files: the zip of an event's monitoring data, and the presigned URLs to it.

The zip is made in memory from the series the backend recorded; nothing is read from or
written to disk. A presigned URL works like S3's: the query carries an expiry (sandbox
clock) and an HMAC over the file name and that expiry, keyed with a secret of this
sandbox, so only URLs the sandbox handed out open a file, and only until they expire.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from mockserver.backends.dr.model import DrEvent, Series, Target

ROW_COLUMNS = (
    "timestamp",
    "epochMs",
    "reason",
    "opt",
    "participating",
    "online",
    "powerState",
    "estimatedPowerW",
)


def file_name(event_id: str, created_ms: int) -> str:
    """``data-zip-<eventId>-<epoch ms>.zip`` as in the seed's example (BC-46).

    Characters a URL path or a file system could misread become ``_``.
    """
    return f"data-zip-{re.sub(r'[^A-Za-z0-9._-]', '_', event_id)}-{created_ms}.zip"


class ZipJob:
    """One data zip in the making: what goes in is fixed when it is asked for.

    Three steps, so that a zip over a whole fleet (42 MB, seconds of work) is made after
    its request is answered: the job is made (cheap: each series' row count and targets
    as they are now), ``take_rows`` makes and copies the rows in parts on the server's
    loop (a row of a device that had not changed is made only now), and ``compress``
    writes the CSVs and deflates them from that copy alone, so it may run in a thread.
    """

    def __init__(
        self, event: DrEvent, series: dict[str, Series], targets: list[Target], created_ms: int
    ) -> None:
        self.created_ms = created_ms
        self.summary: dict[str, Any] = {
            "eventId": event.event_id,
            "eventName": event.event_name,
            "partnerId": event.partner_id,
            "startTs": event.start_ms,
            "endTs": event.end_ms,
            "phase": event.phase,
            "generatedTs": created_ms,
            "targets": [{"targetType": t.type, "targetId": t.id, "opt": t.opt} for t in targets],
            "signals": [dict(signal.raw) for signal in event.signals],
            "columns": list(ROW_COLUMNS),
        }
        self._wanted = [
            (device_id, one, len(one.entries), list(one.targets))
            for device_id, one in series.items()
        ]
        self._taken: list[tuple[str, Series, list[str], list[dict[str, Any]]]] = []

    def __len__(self) -> int:
        """How many devices the zip holds."""
        return len(self._wanted)

    def take_rows(self, part: int = 500) -> Iterator[None]:
        """Make and copy the rows, ``part`` devices at a time (yields between parts).

        Goes on from where an earlier call stopped: an export may finish a job that the
        server's loop is still working through.
        """
        while len(self._taken) < len(self._wanted):
            start = len(self._taken)
            for device_id, one, count, targets in self._wanted[start : start + part]:
                self._taken.append((device_id, one, targets, one.first_rows(count)))
            yield

    def compress(self) -> bytes:
        """The zip's bytes, from what ``take_rows`` copied (no live state is read)."""
        assert len(self._taken) == len(self._wanted), "take_rows first"
        moment = datetime.fromtimestamp(self.created_ms / 1000, UTC)
        devices = []
        files: dict[str, str] = {}
        for device_id, one, targets, rows in self._taken:
            path = f"devices/{device_id}.csv"
            files[path] = _csv(rows)
            devices.append(
                {
                    "deviceId": device_id,
                    "userNo": one.user_no,
                    "deviceType": one.device_type,
                    "modelName": one.model_name,
                    "alias": one.alias,
                    "targets": targets,
                    "file": path,
                    "rows": len(rows),
                }
            )
        summary = {**self.summary, "devices": devices}
        buffer = io.BytesIO()
        stamp = max(moment.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            entries = {"event.json": json.dumps(summary, indent=2, ensure_ascii=False), **files}
            for name, content in entries.items():
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, content.encode("utf-8"))
        return buffer.getvalue()


def _csv(rows: list[dict[str, Any]]) -> str:
    value_columns = sorted({name for row in rows for name in row.get("values", {})})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*ROW_COLUMNS, *value_columns])
    for row in rows:
        values = row.get("values", {})
        writer.writerow(
            [_cell(row.get(name)) for name in ROW_COLUMNS]
            + [_cell(values.get(name)) for name in value_columns]
        )
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Presigner:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def signature(self, filename: str, expires: int) -> str:
        message = f"{filename}\n{expires}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, filename: str, expires: int) -> str:
        query = urlencode({"expires": expires, "signature": self.signature(filename, expires)})
        return f"{base_url.rstrip('/')}/_sandbox/files/{quote(filename)}?{query}"

    def verify(self, filename: str, expires: int, signature: str) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII text, and a query may hold any.
        expected = self.signature(filename, expires).encode()
        return hmac.compare_digest(expected, (signature or "").encode("utf-8"))
