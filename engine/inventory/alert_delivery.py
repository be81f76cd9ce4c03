"""Delivering ``inventory.alert`` outbox rows to the merchant's alert channel.

``ORDERPULSE_INVENTORY_ALERT_CHANNEL`` (``Settings.inventory_alert_channel``) names a channel
declared in a published ruleset, e.g. ``channel 仓储群 feishu { webhook env …, secret env … }``.
At delivery time the handler looks that declaration up (through the workflow registry's cache
of published versions), builds the same ``notify.<type>`` body a workflow ``notify`` writes
(:mod:`engine.notifications`) around the alert's Chinese text
(:mod:`engine.inventory.alert_messages`), and hands it, under the alert row's own delivery
id, to the handler registered for ``notify.<type>``: the connector the workflow uses for that
channel type, secrets read from the environment by it.

No channel configured: the row is marked delivered with a log line saying so (every alert is
also logged when raised). A configured channel that no published ruleset declares, that two
rulesets declare differently, or whose type has no ``notify`` handler raises
:class:`AlertChannelError`: the row is retried, then ends dead with that message, and can be
replayed once the configuration is fixed. This module decides nothing about when an alert is
raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from dsl import model as m
from engine.errors import Conflict, NotFound
from engine.inventory.alert_messages import alert_text
from engine.inventory.service import ALERT_TOPIC
from engine.logs import get_logger
from engine.notifications import notify_body, notify_topic
from engine.outbox.registry import UnknownTopic
from engine.workflow.registry import registry_of

if TYPE_CHECKING:
    from engine.outbox.registry import Delivery
    from engine.services import Services

log = get_logger(__name__)

ALERT_CHANNEL_SETTING = "ORDERPULSE_INVENTORY_ALERT_CHANNEL"


class AlertChannelError(RuntimeError):
    """The configured alert channel cannot be used; ``channel`` is its configured name."""

    def __init__(self, channel: str, problem: str) -> None:
        self.channel = channel
        super().__init__(f"inventory alert channel {channel!r} (set by {ALERT_CHANNEL_SETTING}): {problem}")


def declared_alert_channel(services: Services, session: Session, channel: str) -> tuple[m.ChannelDecl, str]:
    """The channel's declaration and the ``ruleset@version`` declaring it."""
    try:
        decl, ruleset, version = registry_of(services).find_channel(session, channel)
    except NotFound as exc:
        raise AlertChannelError(channel, f"{exc.message}; declare it in a ruleset and publish, "
                                         "or name a declared channel") from None
    except Conflict as exc:
        raise AlertChannelError(channel, exc.message) from None
    return decl, f"{ruleset}@{version}"


def make_alert_handler(services: Services) -> Callable[[Delivery], None]:
    """The ``inventory.alert`` handler; reads the setting and the rulesets at each delivery."""

    def deliver(delivery: Delivery) -> None:
        payload: dict[str, Any] = delivery.payload or {}
        kind = payload.get("kind")
        channel = services.settings.inventory_alert_channel
        if not channel:
            log.warning("inventory alert not sent: no alert channel configured", setting=ALERT_CHANNEL_SETTING,
                        kind=kind, delivery_id=delivery.delivery_id)
            return
        decl, declared_in = declared_alert_channel(services, delivery.session, channel)
        topic = notify_topic(decl)
        try:
            send = services.handlers.get(topic)
        except UnknownTopic:
            raise AlertChannelError(
                channel, f"declared in {declared_in} as a {decl.type} channel, which has no {topic} handler; "
                         "name a chat channel (feishu, wecom, dingtalk)") from None
        body = notify_body(channel, decl, alert_text(payload),
                           context={"alert": kind, "ruleset_version": declared_in})
        send(replace(delivery, topic=topic, payload=body))
        log.info("inventory alert sent", channel=channel, channel_type=decl.type, kind=kind,
                 delivery_id=delivery.delivery_id, attempt=delivery.attempt)

    return deliver


def register_alert_handler(services: Services) -> None:
    """Deliver ``inventory.alert`` rows in this process, unless a plug-in module already
    registered its own handler for the topic."""
    if ALERT_TOPIC not in services.handlers.topics():
        services.handlers.register(ALERT_TOPIC, make_alert_handler(services))
