"""Fake counterparts (group bots, SMS gateway, WMS) for tests and the demo.

:class:`FakeCounterparts` starts one of each on 127.0.0.1 and gives the environment that
points the default outbox handlers at them: the ``ORDERPULSE_*_BASE_URL`` overrides plus the
channel variables the library templates declare (``WECOM_CS_LEAD_KEY``,
``FEISHU_WAREHOUSE_HOOK`` …). Nothing here reaches the internet.
"""

from __future__ import annotations

from typing import Any, Self

from connectors.fakes.base import FakeServer, Received
from connectors.fakes.dingtalk_robot import FakeDingTalkRobot
from connectors.fakes.feishu_bot import FakeFeishuBot
from connectors.fakes.sms_gateway import FakeSmsGateway
from connectors.fakes.wecom_bot import FakeWeComBot
from connectors.fakes.wms import FakeWms

__all__ = ["FakeCounterparts", "FakeDingTalkRobot", "FakeFeishuBot", "FakeServer", "FakeSmsGateway",
           "FakeWeComBot", "FakeWms", "Received"]

WECOM_KEYS = {"WECOM_CS_LEAD_KEY": "fake-wecom-cs-lead-key"}
FEISHU_BOTS = {  # hook variable, secret variable, token, secret
    "warehouse": ("FEISHU_WAREHOUSE_HOOK", "FEISHU_WAREHOUSE_SECRET", "fake-warehouse-hook", "fake-warehouse-secret"),
    "qc": ("FEISHU_QC_HOOK", "FEISHU_QC_SECRET", "fake-qc-hook", "fake-qc-secret"),
}
DINGTALK_ROBOTS = {"DINGTALK_ROBOT_WEBHOOK": ("DINGTALK_ROBOT_SECRET", "fake-robot-token", "SECfake-robot-secret")}


class FakeCounterparts:
    """All fakes together; ``start()`` then ``environment()``; ``stop()`` when done."""

    def __init__(self, **kwargs: Any) -> None:
        self.wecom = FakeWeComBot(WECOM_KEYS.values(), **kwargs)
        self.feishu = FakeFeishuBot({token: secret for _, _, token, secret in FEISHU_BOTS.values()}, **kwargs)
        self.dingtalk = FakeDingTalkRobot({token: secret for _, token, secret in DINGTALK_ROBOTS.values()}, **kwargs)
        self.sms = FakeSmsGateway(**kwargs)
        self.wms = FakeWms(**kwargs)
        self.all: list[FakeServer] = [self.wecom, self.feishu, self.dingtalk, self.sms, self.wms]

    def start(self) -> Self:
        for fake in self.all:
            fake.start()
        return self

    def stop(self) -> None:
        for fake in self.all:
            fake.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        env = {
            "ORDERPULSE_WECOM_BASE_URL": self.wecom.url,
            "ORDERPULSE_FEISHU_BASE_URL": self.feishu.url,
            "ORDERPULSE_DINGTALK_BASE_URL": self.dingtalk.url,
            "SMS_GATEWAY_URL": self.sms.send_url,
            "WMS_URL": self.wms.url,
            **WECOM_KEYS,
        }
        for hook_var, secret_var, token, secret in FEISHU_BOTS.values():
            env[hook_var] = f"https://open.feishu.cn/open-apis/bot/v2/hook/{token}"
            env[secret_var] = secret
        for hook_var, (secret_var, token, secret) in DINGTALK_ROBOTS.items():
            env[hook_var] = f"https://oapi.dingtalk.com/robot/send?access_token={token}"
            env[secret_var] = secret
        return env
