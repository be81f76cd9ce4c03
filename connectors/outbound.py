"""What every outbound connector shares: channel settings resolved from the environment,
base URLs that tests and the demo can redirect, one HTTP POST with a timeout, and errors that
name the platform and its code without ever carrying a secret.

Channel settings arrive in outbox payloads as written by the workflow: a literal value or an
``{"env": "VAR"}`` reference, resolved here from ``os.environ`` at delivery time. A handler
that raises makes the dispatcher retry the row on its schedule; :class:`ConnectorError`
says in its message whether retrying can help (``permanent``), so a row that ends dead
explains why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors import http
from engine import redaction

DEFAULT_TIMEOUT = 5.0
MAX_ANSWER_CHARS = 300


class ConnectorError(RuntimeError):
    """A delivery that did not happen. ``code`` is the platform's error code (or the HTTP
    status); ``permanent`` means retrying will not help until someone fixes configuration;
    ``retry_after`` is how many seconds the platform asked us to wait, when it said."""

    def __init__(self, platform: str, message: str, *, code: Any = None, permanent: bool = False,
                 retry_after: float | None = None) -> None:
        self.platform = platform
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        suffix = " (configuration error: retrying will not help until it is fixed)" if permanent else ""
        super().__init__(f"{platform}: {message}{suffix}")


class MissingSetting(ConnectorError):
    """A channel setting (or the environment variable it names) is absent."""

    def __init__(self, platform: str, message: str) -> None:
        super().__init__(platform, message, permanent=True)


def channel_settings(payload: Mapping[str, Any]) -> dict[str, Any]:
    settings = payload.get("settings") or {}
    return dict(settings) if isinstance(settings, Mapping) else {}


def resolve(platform: str, payload: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    """The value of channel setting ``key``: literal, or read from the environment now."""
    channel = payload.get("channel") or payload.get("target") or "?"
    settings = channel_settings(payload)
    if key not in settings:
        if required:
            raise MissingSetting(platform, f"channel {channel!r} declares no '{key}' setting")
        return None
    raw = settings[key]
    if isinstance(raw, Mapping) and "env" in raw:
        var = str(raw["env"])
        value = os.environ.get(var)
        if value is None or value == "":
            if required:
                raise MissingSetting(
                    platform, f"environment variable {var} (setting '{key}' of channel {channel!r}) is not set")
            return None
        redaction.remember_secret(value)  # whatever a setting holds never reaches a log or an error
        return value
    if raw is None or raw == "":
        if required:
            raise MissingSetting(platform, f"setting '{key}' of channel {channel!r} is empty")
        return None
    redaction.remember_secret(str(raw))
    return str(raw)


def join_path(url: str, segment: str) -> str:
    """``url`` with ``/segment`` appended to its path, before any query string
    (``https://wms/api?key=K`` + ``outbound`` → ``https://wms/api/outbound?key=K``)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/" + segment.lstrip("/"),
                       parts.query, parts.fragment))


def base_url(platform: str, payload: Mapping[str, Any], env_var: str, default: str) -> str:
    """Where a platform lives: the channel's ``base_url`` setting, else ``env_var``, else the
    real endpoint. Tests and the demo point this at the fake servers."""
    return (resolve(platform, payload, "base_url", required=False)
            or os.environ.get(env_var) or default).rstrip("/")


def rebase(url: str, base: str) -> str:
    """``url`` with its scheme and host replaced by ``base`` (whose path, if any, is prefixed)."""
    parts = urlsplit(url)
    target = urlsplit(base)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))


def truncate_utf8(text: str, max_bytes: int, marker: str = "…") -> str:
    """``text`` cut on a character boundary so that its UTF-8 form fits ``max_bytes``."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    room = max_bytes - len(marker.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + marker


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` scrubbed by the one redaction step (engine.redaction), with ``secrets`` (and
    their URL-quoted forms) scrubbed too."""
    extra: list[str] = []
    for secret in secrets:
        if secret:
            extra.append(secret)
            quoted = requests.utils.quote(secret, safe="")
            if quoted != secret:
                extra.append(quoted)
    return redaction.redact(text, extra)


def post_json(
    platform: str,
    url: str,
    body: Any,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[int, Any]:
    """POST ``body`` as UTF-8 JSON; return ``(status, parsed JSON or None)``.

    Network failures and HTTP errors raise :class:`ConnectorError` with every value in
    ``secrets`` blanked out of the message (URLs carry keys and tokens)."""
    secrets = list(secrets)
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    sent_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        resp = http.request("POST", url, params=params, data=data, headers=sent_headers, timeout=timeout)
    except requests.RequestException as exc:
        raise ConnectorError(platform, redact(f"request failed: {type(exc).__name__}: {exc}", secrets)) from None
    text = resp.text
    try:
        answer = resp.json() if text else None
    except ValueError:
        answer = None
    if resp.status_code >= 400:
        snippet = redact(text[:MAX_ANSWER_CHARS], secrets)
        raise ConnectorError(platform, f"HTTP {resp.status_code}: {snippet}", code=resp.status_code,
                             permanent=resp.status_code in (401, 403, 404))
    if answer is None and resp.status_code != 204:
        snippet = redact(text[:MAX_ANSWER_CHARS], secrets)
        raise ConnectorError(platform, f"HTTP {resp.status_code} without a JSON answer: {snippet!r}",
                             code=resp.status_code)
    return resp.status_code, answer


def post_idempotent(platform: str, url: str, body: Any, *, request_id: str, token: str | None = None,
                    secrets: Iterable[str | None] = ()) -> dict[str, Any]:
    """POST to a counterpart that acts once per ``Idempotency-Key`` (our SMS gateway and WMS
    contracts), with ``Authorization: Bearer <token>`` when a token is set; return its JSON
    object answer, which carries ``code`` (the caller judges the code)."""
    headers = {"Idempotency-Key": request_id}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    _, answer = post_json(platform, url, body, headers=headers, secrets=[token, *secrets])
    if not isinstance(answer, dict) or "code" not in answer:
        raise ConnectorError(platform, "unexpected answer (expected a JSON object with 'code')")
    return answer
