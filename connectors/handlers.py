"""The default outbox handlers: which connector delivers which topic.

The composition root (``Services.build``) calls :func:`register_defaults` before loading
plug-in modules, so a plug-in (or a test) registering the same topic replaces the default.
Topics follow what the workflow writes: ``notify.<channel type>`` and
``call.<channel type>.<operation>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors import dingtalk_robot, feishu_bot, sms_gateway, wecom_bot, wms

if TYPE_CHECKING:
    from engine.outbox.registry import Handler, HandlerRegistry

DEFAULT_HANDLERS: dict[str, Handler] = {
    wecom_bot.TOPIC: wecom_bot.deliver,
    feishu_bot.TOPIC: feishu_bot.deliver,
    dingtalk_robot.TOPIC: dingtalk_robot.deliver,
    sms_gateway.TOPIC: sms_gateway.deliver,
    **{f"call.wms.{operation}": wms.deliver for operation in wms.OPERATIONS},
}


def register_defaults(registry: HandlerRegistry) -> None:
    for topic, handler in DEFAULT_HANDLERS.items():
        registry.register(topic, handler)
