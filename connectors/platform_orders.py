"""What the platform order clients share (``connectors/<platform>_orders.py``, each an
:class:`engine.orders.ports.PlatformOrderClient`): the conversions between aware datetimes and
the platforms' epoch milliseconds, and the first checks of a push message — its size, a
header read case-insensitively, a timestamp within the platform's window, a signature
compared in constant time, a JSON body — each failing with
:class:`~engine.orders.ports.PushRefused` before anything of the message is believed.

Signing and requests are not here: an order client calls its platform through the stock
connector of the same platform (``connectors/<platform>_stock.py``), which owns the
platform's signing, transport and error codes, so that each platform has one of each.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from engine.orders.ports import PushRefused

MAX_PUSH_BYTES = 1024 * 1024  # a push message is a few KB; anything near this is not one


def epoch_ms(at: datetime) -> int:
    """``at`` (aware) as epoch milliseconds."""
    if at.tzinfo is None:
        raise ValueError(f"{at!r} has no time zone")
    return int(at.timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(value / 1000, UTC)


def header(headers: Mapping[str, str], name: str) -> str:
    """Header ``name`` (any case) of a push request, or ``""``."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return ""


def refuse_oversized(body: bytes) -> None:
    if len(body) > MAX_PUSH_BYTES:
        raise PushRefused(f"push body of {len(body)} bytes is larger than {MAX_PUSH_BYTES}", status=413)


def require_fresh(timestamp: str, now: float, window: float, *, scale: int = 1) -> int:
    """The push's timestamp (unix seconds, or milliseconds with ``scale=1000``) when it is
    within ``window`` seconds of ``now``; else :class:`PushRefused`."""
    if not timestamp.isdigit():
        raise PushRefused("push timestamp missing or not a number")
    value = int(timestamp)
    if abs(now - value / scale) > window:
        raise PushRefused(f"push timestamp {timestamp} is more than {int(window)} s from our clock")
    return value


def require_signature(expected: str, given: str) -> None:
    """Refuse unless ``given`` equals ``expected`` (compared in constant time)."""
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise PushRefused("push signature does not verify")


def json_body(body: bytes | str, what: str = "push body") -> Any:
    """The JSON of a verified push body; a body that is not UTF-8 JSON is refused (400)."""
    try:
        return json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (UnicodeDecodeError, ValueError):
        raise PushRefused(f"{what} is not UTF-8 JSON", status=400) from None


def digest(value: Any) -> str:
    """A stable id for a message without one: SHA-256 of its canonical JSON."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
