"""Structured logging (structlog, JSON lines) with personal data masked by default.

Every event, from our code or from a library through the standard ``logging`` module,
passes through :func:`mask_processor` before it is written: personal data masked
(engine.masking) and secrets scrubbed (engine.redaction).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from engine.masking import mask_data, mask_text
from engine.redaction import known_secrets, redact


def mask_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    masked = _redact_all(mask_data(event_dict), known_secrets())
    if isinstance(masked.get("event"), str):
        masked["event"] = mask_text(masked["event"])
    return masked


def _redact_all(value: Any, secrets: tuple[str, ...]) -> Any:
    """Every string of an event (exception texts included) through the one redaction step, with
    the known secrets read once per event."""
    if isinstance(value, str):
        return redact(value, secrets=secrets)
    if isinstance(value, dict):
        return {k: _redact_all(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_all(v, secrets) for v in value]
    return value


def configure_logging(level: int = logging.INFO, stream: Any = None) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        # a call below the level costs one level check, not the whole chain
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("orderpulse")
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == "orderpulse":
            root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    # transitions logs every state exit and entry at INFO: our own step log says what changed
    for noisy in ("alembic", "waitress.queue", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
