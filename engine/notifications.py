"""A notification to a declared channel, as an outbox row: the ``notify.<type>`` topic and the
body every ``notify.*`` handler in ``connectors`` reads.

Shared by the workflow's ``notify`` effects and the inventory's alerts, so a channel declared
once (``channel 仓储群 feishu { webhook env …, secret env … }``) is reached the same way from
both. Secrets stay ``{"env": VAR}`` references here; the connector reads the environment at
delivery time. Nothing here looks channels up or sends anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dsl import model as m

UNDECLARED_TYPE = "unknown"


def declared_settings(channel: m.ChannelDecl | None) -> dict[str, Any]:
    """A channel's settings as the outbox carries them: literals as written, ``env`` values as
    ``{"env": VAR}`` (never the secret itself)."""
    if channel is None:
        return {}
    out: dict[str, Any] = {}
    for s in channel.settings:
        out[s.key] = {"env": s.value.var} if isinstance(s.value, m.EnvRef) else s.value.value
    return out


def notify_topic(channel: m.ChannelDecl | None) -> str:
    return f"notify.{channel.type if channel else UNDECLARED_TYPE}"


def notify_body(channel_name: str, channel: m.ChannelDecl | None, message: str, *, to: Any = None,
                context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The outbox body of ``message`` sent to ``channel_name`` (declared as ``channel``, or None
    when the ruleset does not declare it); ``context`` says who sent it (ticket, alert …)."""
    return {**(context or {}), "channel": channel_name, "channel_type": channel.type if channel else UNDECLARED_TYPE,
            "settings": declared_settings(channel), "message": message, "to": to}
