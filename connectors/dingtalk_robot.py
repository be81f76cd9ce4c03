"""DingTalk (钉钉) custom group robot: delivers ``notify.dingtalk`` outbox rows.

``POST https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=MS&sign=S`` with
``{"msgtype": "text", "text": {"content": …}, "at": {…}}``. The signature is
``base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))`` (the reverse of Feishu's
key/message order), URL-encoded once in the query; the timestamp is epoch **milliseconds**
within an hour of DingTalk's clock, so it comes from the wall clock. Success is
``errcode == 0``; 310000 (keyword, timestamp, signature or IP whitelist) is a configuration
error; 130101 means more than 20 messages a minute (the robot is throttled for 10 minutes).
This is not the approval callback protocol (see :mod:`connectors.dingtalk`).

Channel settings: ``webhook`` (the robot URL or just its access token; ``access_token`` is
accepted too), optional ``secret`` (``SEC…``; robots secured by keywords or IP need none),
optional ``base_url``. ``ORDERPULSE_DINGTALK_BASE_URL`` redirects every robot (tests, demo).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from connectors.outbound import (
    ConnectorError,
    MissingSetting,
    base_url,
    channel_settings,
    post_json,
    resolve,
    truncate_utf8,
)
from engine.logs import get_logger

if TYPE_CHECKING:
    from engine.outbox.registry import Delivery

PLATFORM = "DingTalk robot"
TOPIC = "notify.dingtalk"
DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
BASE_URL_ENV = "ORDERPULSE_DINGTALK_BASE_URL"
SEND_PATH = "/robot/send"
MAX_TEXT_BYTES = 18 * 1024
PERMANENT_CODES = {300001, 310000, 400102}
RATE_LIMITED = 130101
RATE_LIMIT_WAIT = 600  # seconds: a robot over its limit is throttled for 10 minutes

_MOBILE = re.compile(r"^\+?\d{6,15}$")

log = get_logger(__name__)


def sign(timestamp_ms: int | str, secret: str) -> str:
    """``base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))`` (not URL-encoded)."""
    msg = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).digest()).decode("ascii")


def access_token(webhook: str) -> str:
    if webhook.startswith(("http://", "https://")):
        tokens = parse_qs(urlsplit(webhook).query).get("access_token")
        if not tokens or not tokens[0]:
            raise MissingSetting(PLATFORM, "the robot URL has no access_token= parameter")
        return tokens[0]
    return webhook


def text_message(content: str, to: Any = None) -> dict[str, Any]:
    """Text body; ``to`` (mobiles, user ids, ``@all``) becomes the ``at`` block. DingTalk only
    highlights an @mobile that also appears in the text, so it is appended."""
    targets = [to] if isinstance(to, str) else list(to or [])
    mobiles = [str(t) for t in targets if _MOBILE.match(str(t))]
    users = [str(t) for t in targets if t and str(t) != "@all" and not _MOBILE.match(str(t))]
    at_all = "@all" in [str(t) for t in targets]
    text = content + "".join(f" @{m}" for m in mobiles)
    at: dict[str, Any] = {"isAtAll": at_all}
    if mobiles:
        at["atMobiles"] = mobiles
    if users:
        at["atUserIds"] = users
    return {"msgtype": "text", "text": {"content": truncate_utf8(text, MAX_TEXT_BYTES)}, "at": at}


def send(token: str, body: dict[str, Any], *, secret: str | None, timestamp_ms: int,
         base: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    """Post one message; return the answer, or raise :class:`ConnectorError`."""
    params = {"access_token": token}
    if secret:
        params.update(timestamp=str(timestamp_ms), sign=sign(timestamp_ms, secret))
    _, answer = post_json(PLATFORM, base.rstrip("/") + SEND_PATH, body, params=params, secrets=[token, secret])
    if not isinstance(answer, dict) or "errcode" not in answer:
        raise ConnectorError(PLATFORM, f"unexpected answer {str(answer)[:200]!r}")
    code = answer.get("errcode")
    if code != 0:
        hints: dict[Any, str] = {
                RATE_LIMITED: " (more than 20 messages a minute: the robot is throttled for 10 minutes)",
                310000: " (keyword, timestamp, signature or IP whitelist refused)"}
        hint = hints.get(code, "")
        raise ConnectorError(PLATFORM, f"errcode {code}: {answer.get('errmsg', '')}{hint}", code=code,
                             permanent=code in PERMANENT_CODES,
                             retry_after=RATE_LIMIT_WAIT if code == RATE_LIMITED else None)
    return answer


def make_deliver(wall_clock: Callable[[], float] = time.time) -> Callable[[Delivery], None]:
    """The ``notify.dingtalk`` handler; ``wall_clock`` gives the signing timestamp."""

    def deliver(delivery: Delivery) -> None:
        payload = delivery.payload or {}
        key = "access_token" if "access_token" in channel_settings(payload) else "webhook"
        webhook = resolve(PLATFORM, payload, key)
        secret = resolve(PLATFORM, payload, "secret", required=False)
        message = str(payload.get("message") or "")
        if not message:
            raise ConnectorError(PLATFORM, "the notification has no message text", permanent=True)
        send(access_token(str(webhook)), text_message(message, payload.get("to")), secret=secret,
             timestamp_ms=int(wall_clock() * 1000), base=base_url(PLATFORM, payload, BASE_URL_ENV, DEFAULT_BASE_URL))
        log.info("dingtalk robot message sent", channel=payload.get("channel"), delivery_id=delivery.delivery_id,
                 attempt=delivery.attempt)

    return deliver


deliver = make_deliver()
