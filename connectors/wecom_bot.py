"""WeCom (企业微信) group bot: delivers ``notify.wecom`` outbox rows.

``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` with
``{"msgtype": "text", "text": {"content": …}}``. There is no signature: the key is the secret.
Success is ``errcode == 0`` even on HTTP 200; text content is limited to 2048 bytes (longer
messages are cut); about 20 messages per minute per bot (errcode 45009 when exceeded).

Channel settings: ``key`` (the key itself, or the whole webhook URL holding ``key=``),
optional ``base_url``. ``ORDERPULSE_WECOM_BASE_URL`` redirects every WeCom channel (tests,
demo). The bot has no idempotency key, so a retried row may post twice (at-least-once).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from connectors.outbound import (
    ConnectorError,
    MissingSetting,
    base_url,
    post_json,
    resolve,
    truncate_utf8,
)
from engine.logs import get_logger

if TYPE_CHECKING:
    from engine.outbox.registry import Delivery

PLATFORM = "WeCom bot"
TOPIC = "notify.wecom"
DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
BASE_URL_ENV = "ORDERPULSE_WECOM_BASE_URL"
SEND_PATH = "/cgi-bin/webhook/send"
MAX_TEXT_BYTES = 2048
# Codes that retrying cannot fix (bad or deleted key, malformed request).
PERMANENT_CODES = {93000, 40008, 40058, 44004}
RATE_LIMITED = 45009
RATE_LIMIT_WAIT = 60  # seconds: the limit is counted per minute

_MOBILE = re.compile(r"^\+?\d{6,15}$")

log = get_logger(__name__)


def extract_key(value: str) -> str:
    """The bot key, given either the key or the full webhook URL."""
    if value.startswith(("http://", "https://")):
        keys = parse_qs(urlsplit(value).query).get("key")
        if not keys or not keys[0]:
            raise MissingSetting(PLATFORM, "the webhook URL in setting 'key' has no key= parameter")
        return keys[0]
    return value


def text_message(content: str, to: Any = None) -> dict[str, Any]:
    """The text message body; ``to`` (a user id, a mobile number, ``@all`` or a list) is
    turned into mentions."""
    text: dict[str, Any] = {"content": truncate_utf8(content, MAX_TEXT_BYTES)}
    targets = [to] if isinstance(to, str) else list(to or [])
    mobiles = [str(t) for t in targets if _MOBILE.match(str(t))]
    users = [str(t) for t in targets if t and not _MOBILE.match(str(t))]
    if users:
        text["mentioned_list"] = users
    if mobiles:
        text["mentioned_mobile_list"] = mobiles
    return {"msgtype": "text", "text": text}


def send(key: str, body: dict[str, Any], *, base: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """Post one message; return the answer, or raise :class:`ConnectorError`."""
    _, answer = post_json(PLATFORM, base.rstrip("/") + SEND_PATH, body, params={"key": key}, secrets=[key])
    if not isinstance(answer, dict) or "errcode" not in answer:
        raise ConnectorError(PLATFORM, f"unexpected answer {str(answer)[:200]!r}")
    code = answer.get("errcode")
    if code != 0:
        hint = " (rate limited: about 20 messages per minute per bot)" if code == RATE_LIMITED else ""
        raise ConnectorError(PLATFORM, f"errcode {code}: {answer.get('errmsg', '')}{hint}", code=code,
                             permanent=code in PERMANENT_CODES,
                             retry_after=RATE_LIMIT_WAIT if code == RATE_LIMITED else None)
    return answer


def deliver(delivery: Delivery) -> None:
    """Outbox handler for ``notify.wecom``."""
    payload = delivery.payload or {}
    key = extract_key(str(resolve(PLATFORM, payload, "key")))
    message = str(payload.get("message") or "")
    if not message:
        raise ConnectorError(PLATFORM, "the notification has no message text", permanent=True)
    send(key, text_message(message, payload.get("to")),
         base=base_url(PLATFORM, payload, BASE_URL_ENV, DEFAULT_BASE_URL))
    log.info("wecom bot message sent", channel=payload.get("channel"), delivery_id=delivery.delivery_id,
             attempt=delivery.attempt)
