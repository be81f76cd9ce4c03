"""Scrubbing secrets out of text that leaves the process: error texts stored in the outbox
(``last_error``, served by ``GET /outbox``), API error messages and every log line.

One step, :func:`redact`, replaces with ``***``:
- every secret the process has used: values of channel, hook and source settings read from the
  environment (connectors and hooks call :func:`remember_secret` when they resolve one), and
  values of environment variables whose names say they hold a secret (``*SECRET*``, ``*TOKEN*``,
  ``*KEY*``, ``*PASSWORD*``, ``*_URL``, ``*HOOK*``, ``*CREDENTIAL*``) — for URLs, also their query
  values, user-info and webhook path tokens;
- whatever looks like a secret in a URL even when unknown: values of query parameters such as
  ``key``, ``apikey``, ``access_token``, ``sign``, ``secret``, user-info in ``//user:pass@``, and
  ``Bearer``/``op_`` tokens.
:func:`mask_secret` shows a typed value (a failed sign-in's username) without revealing it.
Pure functions over text and a process-wide set of remembered values; no I/O.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "***"
MIN_SECRET_LENGTH = 6
_SECRET_NAME = re.compile(r"SECRET|TOKEN|KEY|PASSWORD|PASSWD|_URL$|HOOK|CREDENTIAL|_DSN$", re.IGNORECASE)
_SENSITIVE_PARAMS = ("key|apikey|api_key|app_key|appkey|app_secret|appsecret|secret|token|access_token|"
                     "accesstoken|sign|signature|password|passwd|pwd|auth|client_secret|sessionkey|session")
_QUERY_SECRET = re.compile(rf"(?i)([?&;](?:{_SENSITIVE_PARAMS})=)([^&#\s\"'<>]+)")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)([^/\s:@\"']+(?::[^/\s@\"']*)?@)")
_BEARER = re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{8,})")
_OP_TOKEN = re.compile(r"\bop_[A-Za-z0-9_-]{16,}")
_HOOK_PATH = re.compile(r"(/hook/|/robot/send/|/webhook/send/)([A-Za-z0-9_-]{8,})")

_remembered: set[str] = set()
_remembered_version = 0  # bumped whenever a new value is remembered
_lock = threading.Lock()
_env_cache: tuple[int, tuple[str, ...]] = (0, ())
_known_cache: tuple[tuple[int, int], tuple[str, ...]] = ((-1, 0), ())


def remember_secret(value: str | None) -> None:
    """Add ``value`` (and the secret parts of it, if it is a URL) to the values to scrub."""
    if not value:
        return
    global _remembered_version
    parts = _secret_parts(value)
    if parts and not parts <= _remembered:
        with _lock:
            _remembered.update(parts)
            _remembered_version += 1


def _secret_parts(value: str) -> set[str]:
    parts = {value} if len(value) >= MIN_SECRET_LENGTH else set()
    if "://" in value:
        try:
            url = urlsplit(value)
        except ValueError:
            return parts
        for _, v in parse_qsl(url.query, keep_blank_values=False):
            if len(v) >= MIN_SECRET_LENGTH:
                parts.update({v, unquote(v)})
        if url.password and len(url.password) >= 3:
            parts.add(url.password)
        for token in _HOOK_PATH.findall(url.path):
            parts.add(token[1])
    return parts


def _env_fingerprint() -> int:
    """A hash of the whole environment, taken on its raw bytes (decoding every variable's name
    and value, as ``os.environ.items()`` does, cost a tenth of a millisecond per log line)."""
    raw = getattr(os.environ, "_data", None)
    return hash(frozenset(raw.items())) if isinstance(raw, dict) else hash(frozenset(os.environ.items()))


def _env_secrets(fingerprint: int | None = None) -> tuple[str, ...]:
    """Secret-looking environment values, recomputed only when the environment changes."""
    global _env_cache
    fingerprint = _env_fingerprint() if fingerprint is None else fingerprint
    if _env_cache[0] != fingerprint:
        found: set[str] = set()
        for name, value in os.environ.items():
            if value and _SECRET_NAME.search(name):
                found |= _secret_parts(value)
        _env_cache = (fingerprint, tuple(sorted(found, key=len, reverse=True)))
    return _env_cache[1]


def known_secrets() -> tuple[str, ...]:
    """Every value to scrub, longest first (recomputed only when a value is remembered or the
    environment changes)."""
    global _known_cache
    fingerprint = _env_fingerprint()
    key = (_remembered_version, fingerprint)
    if _known_cache[0] != key:
        with _lock:
            remembered = tuple(_remembered)
            version = _remembered_version
        env = _env_secrets(fingerprint)
        _known_cache = ((version, fingerprint), tuple(sorted(set(remembered) | set(env), key=len, reverse=True)))
    return _known_cache[1]


@functools.lru_cache(maxsize=32)
def _alternation(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern matching any of ``secrets``, longest first (a secret that contains another
    is replaced whole)."""
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None


def redact(text: str, extra: Iterable[str] = (), *, secrets: tuple[str, ...] | None = None) -> str:
    """``text`` with every known secret (and every secret-looking URL part) replaced by ``***``.
    ``secrets`` are the known secrets when the caller already read them (one log event's many
    strings read them once)."""
    if not text:
        return text
    pattern = _alternation((*extra, *(known_secrets() if secrets is None else secrets)))
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _HOOK_PATH.sub(lambda m: m.group(1) + REDACTED, text)
    return _OP_TOKEN.sub("op_" + REDACTED, text)


def mask_secret(typed: str) -> str:
    """What was typed, masked: its first character and its length class, never the rest
    (``li_na`` → ``l***``; a password typed in the username field stays unreadable)."""
    if not typed:
        return ""
    return typed[0] + REDACTED
