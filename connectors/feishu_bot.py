"""Feishu (飞书) custom bot: delivers ``notify.feishu`` outbox rows.

``POST https://open.feishu.cn/open-apis/bot/v2/hook/{token}`` with
``{"timestamp": "<unix seconds>", "sign": …, "msg_type": "text", "content": {"text": …}}``.
The signature uses ``f"{timestamp}\\n{secret}"`` as the HMAC-SHA256 **key** over an **empty**
message, base64-encoded (the reverse of DingTalk's robot); the timestamp must be within an
hour of Feishu's clock, so it comes from the wall clock, not the engine's business clock.
Success is ``code == 0`` (legacy ``StatusCode == 0``) even on HTTP 200; 19021 is a bad
signature or stale timestamp (not retryable), 11232 the frequency limit (100/min, 5/s).

Channel settings: ``webhook`` (the hook URL or just its token), optional ``secret`` (bots
without signature verification need none), optional ``base_url``. ``ORDERPULSE_FEISHU_BASE_URL``
redirects every Feishu channel (tests, demo). No idempotency key exists: at-least-once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectors.outbound import (
    ConnectorError,
    MissingSetting,
    base_url,
    post_json,
    rebase,
    resolve,
    truncate_utf8,
)
from engine.logs import get_logger

if TYPE_CHECKING:
    from engine.outbox.registry import Delivery

PLATFORM = "Feishu bot"
TOPIC = "notify.feishu"
DEFAULT_BASE_URL = "https://open.feishu.cn"
BASE_URL_ENV = "ORDERPULSE_FEISHU_BASE_URL"
HOOK_PATH = "/open-apis/bot/v2/hook/"
MAX_TEXT_BYTES = 18 * 1024  # the whole body must stay under 20 KB
PERMANENT_CODES = {19001, 19021, 19024, 19036}
RATE_LIMITED = 11232
RATE_LIMIT_WAIT = 60  # seconds: the limit is counted per minute

log = get_logger(__name__)


def sign(timestamp: int | str, secret: str) -> str:
    """``base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _token(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def hook_url(webhook: str, base: str | None) -> str:
    """The hook URL from a full URL or a bare token; ``base`` (when set) replaces the host."""
    if webhook.startswith(("http://", "https://")):
        if not _token(webhook):
            raise MissingSetting(PLATFORM, "the webhook URL has no token at its end")
        return rebase(webhook, base) if base else webhook
    return (base or DEFAULT_BASE_URL).rstrip("/") + HOOK_PATH + webhook


def text_message(content: str, *, secret: str | None, timestamp: int) -> dict[str, Any]:
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": truncate_utf8(content, MAX_TEXT_BYTES)}}
    if secret:
        body = {"timestamp": str(timestamp), "sign": sign(timestamp, secret), **body}
    return body


def send(url: str, body: dict[str, Any], *, secrets: list[str | None]) -> dict[str, Any]:
    """Post one message; return the answer, or raise :class:`ConnectorError`."""
    _, answer = post_json(PLATFORM, url, body, secrets=secrets)
    if not isinstance(answer, dict):
        raise ConnectorError(PLATFORM, f"unexpected answer {str(answer)[:200]!r}")
    code = answer.get("code", answer.get("StatusCode"))
    if code is None:
        raise ConnectorError(PLATFORM, f"answer without a code: {str(answer)[:200]!r}")
    if code != 0:
        msg = answer.get("msg", answer.get("StatusMessage", ""))
        hints: dict[Any, str] = {
                19021: " (signature mismatch or timestamp more than 1 h off: check the secret and the clock)",
                RATE_LIMITED: " (frequency limit: 100/min and 5/s per bot)"}
        hint = hints.get(code, "")
        raise ConnectorError(PLATFORM, f"code {code}: {msg}{hint}", code=code, permanent=code in PERMANENT_CODES,
                             retry_after=RATE_LIMIT_WAIT if code == RATE_LIMITED else None)
    return answer


def make_deliver(wall_clock: Callable[[], float] = time.time) -> Callable[[Delivery], None]:
    """The ``notify.feishu`` handler; ``wall_clock`` gives the signing timestamp."""

    def deliver(delivery: Delivery) -> None:
        payload = delivery.payload or {}
        webhook = str(resolve(PLATFORM, payload, "webhook"))
        secret = resolve(PLATFORM, payload, "secret", required=False)
        message = str(payload.get("message") or "")
        if not message:
            raise ConnectorError(PLATFORM, "the notification has no message text", permanent=True)
        base = base_url(PLATFORM, payload, BASE_URL_ENV, "") or None
        url = hook_url(webhook, base)
        token = _token(url)
        body = text_message(message, secret=secret, timestamp=int(wall_clock()))
        send(url, body, secrets=[secret, token, webhook])
        log.info("feishu bot message sent", channel=payload.get("channel"), delivery_id=delivery.delivery_id,
                 attempt=delivery.attempt)

    return deliver


deliver = make_deliver()
