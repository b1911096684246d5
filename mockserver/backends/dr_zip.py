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
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from mockserver.backends.dr_model import DrEvent, Series, Target

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


def build_zip(
    event: DrEvent, series: dict[str, Series], targets: list[Target], created_ms: int
) -> bytes:
    """``event.json`` (the event, the targets asked for, the devices) and one CSV per device."""
    moment = datetime.fromtimestamp(created_ms / 1000, UTC)
    devices = []
    files: dict[str, str] = {}
    for device_id, one in series.items():
        path = f"devices/{device_id}.csv"
        files[path] = _csv(one.rows)
        devices.append(
            {
                "deviceId": device_id,
                "userNo": one.user_no,
                "deviceType": one.device_type,
                "modelName": one.model_name,
                "alias": one.alias,
                "targets": list(one.targets),
                "file": path,
                "rows": len(one.rows),
            }
        )
    summary = {
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
        "devices": devices,
    }
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
