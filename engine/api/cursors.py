"""The opaque page cursor of every list the API pages newest first by (time, id): the last
row's key, encoded so a client cannot read meaning into it, and refused with a 422 naming
``/cursor`` when it is not one the API gave out."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from engine.errors import Unprocessable

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = text.rsplit("|", 1)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed, int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Unprocessable("cursor is not one this API gave out", code="bad_cursor",
                            details=[{"path": "/cursor", "message": "unknown cursor"}]) from None
