"""SMS gateway: delivers ``notify.sms`` outbox rows to the gateway URL the channel declares.

The gateway contract (our side of an in-house or vendor-fronting SMS service):
``POST <url>`` with JSON ``{"phone": "13800138000", "text": "…", "request_id": "<delivery id>"}``,
header ``Idempotency-Key: <delivery id>`` (the gateway sends one SMS per key, so a retried row
never texts a customer twice) and, when the channel has a ``token`` setting,
``Authorization: Bearer <token>``. Answer: HTTP 2xx with ``{"code": 0, "message_id": …}``;
any other code, or HTTP ≥ 400, is a failure (429 and 5xx are worth retrying).

Channel settings: ``url`` (required), optional ``token``. The recipient is the row's ``to``
(the ticket field named in ``notify 短信 to consumer_phone``). Phone numbers never appear in
error texts (they end up in the outbox row) and are masked in logs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from connectors.outbound import ConnectorError, post_idempotent, resolve
from engine.logs import get_logger
from engine.masking import mask_phone

if TYPE_CHECKING:
    from engine.outbox.registry import Delivery

PLATFORM = "SMS gateway"
TOPIC = "notify.sms"
MAX_TEXT_CHARS = 500

_PHONE = re.compile(r"^\+?\d{6,15}$")

log = get_logger(__name__)


def normalize_phone(value: Any) -> str:
    """Digits (with an optional leading ``+``) from a phone written with spaces or dashes."""
    phone = re.sub(r"[\s\-()]", "", str(value or ""))
    if phone.startswith("+86") and len(phone) == 14:
        phone = phone[3:]
    if not _PHONE.match(phone):
        raise ConnectorError(PLATFORM, f"recipient {mask_phone(str(value))!r} is not a phone number", permanent=True)
    return phone


def send(url: str, phone: str, text: str, *, request_id: str, token: str | None = None) -> dict[str, Any]:
    """Ask the gateway to send one SMS; return its answer, or raise :class:`ConnectorError`."""
    body = {"phone": phone, "text": text[:MAX_TEXT_CHARS], "request_id": request_id}
    answer = post_idempotent(PLATFORM, url, body, request_id=request_id, token=token, secrets=[phone])
    code = answer.get("code")
    if code != 0:
        message = str(answer.get("message", "")).replace(phone, "***")
        raise ConnectorError(PLATFORM, f"code {code}: {message}", code=code)
    return answer


def deliver(delivery: Delivery) -> None:
    """Outbox handler for ``notify.sms``."""
    payload = delivery.payload or {}
    url = str(resolve(PLATFORM, payload, "url"))
    token = resolve(PLATFORM, payload, "token", required=False)
    if not payload.get("to"):
        raise ConnectorError(PLATFORM, "no recipient: the ticket field named after 'to' is empty", permanent=True)
    phone = normalize_phone(payload["to"])
    text = str(payload.get("message") or "")
    if not text:
        raise ConnectorError(PLATFORM, "the notification has no message text", permanent=True)
    answer = send(url, phone, text, request_id=delivery.delivery_id, token=token)
    log.info("sms sent", channel=payload.get("channel"), phone=phone, delivery_id=delivery.delivery_id,
             message_id=answer.get("message_id"), attempt=delivery.attempt)
