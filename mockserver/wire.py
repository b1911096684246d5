"""The platform's wire formats shared by every API: message ids and timestamps.

A leaf: the request path (request ids, error envelopes), the callback bodies and the
journal all write these two values, and none of them should import another to do it.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime


def new_message_id() -> str:
    """A fresh id in the platform's format: url-safe base64 of a UUIDv4, no padding."""
    # The UUIDv4 bits set by hand: uuid.uuid4() builds an object per request id.
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def iso_timestamp(now: datetime | None = None) -> str:
    """The platform's timestamp format: ISO-8601 with microseconds, no zone."""
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
