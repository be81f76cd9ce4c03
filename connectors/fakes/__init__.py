"""Fake counterparts (group bots, SMS gateway, WMS, 快递鸟, the six platforms' stock, order and
e-waybill APIs) for tests and the demo.

:class:`FakeCounterparts` starts one of each on 127.0.0.1 and gives the environment that
points the default outbox handlers and the platform stock connectors at them: the
``ORDERPULSE_*_BASE_URL`` overrides plus the variables the library templates declare
(``WECOM_CS_LEAD_KEY``, ``FEISHU_WAREHOUSE_HOOK`` …, the sources' ``DOUYIN_APP_KEY`` …), the
Kdniao account and a demo sender (the shipping desk's waybills).
Nothing here reaches the internet.
"""

from __future__ import annotations

import threading
from typing import Any, Self

from connectors.fakes.base import FakeServer, Received
from connectors.fakes.dingtalk_robot import FakeDingTalkRobot
from connectors.fakes.douyin_stock import FakeDouyinStock
from connectors.fakes.feishu_bot import FakeFeishuBot
from connectors.fakes.kdniao_waybill import FakeKdniao
from connectors.fakes.kuaishou_orders import DEFAULT_MESSAGE_KEY as KUAISHOU_MESSAGE_KEY
from connectors.fakes.kuaishou_stock import FakeKuaishouStock
from connectors.fakes.miniprogram_stock import FakeMiniprogramStock
from connectors.fakes.order_scenario import DEMO_LIFECYCLE, Lifecycle, MisconfiguredCoupon
from connectors.fakes.pdd_stock import FakePddStock
from connectors.fakes.platform_waybills import WAYBILL_FAKES
from connectors.fakes.sms_gateway import FakeSmsGateway
from connectors.fakes.taobao_stock import FakeTaobaoStock
from connectors.fakes.wecom_bot import FakeWeComBot
from connectors.fakes.wms import FakeWms
from connectors.fakes.xiaohongshu_stock import FakeXiaohongshuStock

__all__ = ["FakeCounterparts", "FakeDingTalkRobot", "FakeDouyinStock", "FakeFeishuBot", "FakeKuaishouStock",
           "FakeMiniprogramStock", "FakePddStock", "FakeServer", "FakeSmsGateway", "FakeTaobaoStock", "FakeWeComBot",
           "FakeWms", "FakeXiaohongshuStock", "Received"]

WECOM_KEYS = {"WECOM_CS_LEAD_KEY": "fake-wecom-cs-lead-key"}
FEISHU_BOTS = {  # hook variable, secret variable, token, secret
    "warehouse": ("FEISHU_WAREHOUSE_HOOK", "FEISHU_WAREHOUSE_SECRET", "fake-warehouse-hook", "fake-warehouse-secret"),
    "qc": ("FEISHU_QC_HOOK", "FEISHU_QC_SECRET", "fake-qc-hook", "fake-qc-secret"),
}
DINGTALK_ROBOTS = {"DINGTALK_ROBOT_WEBHOOK": ("DINGTALK_ROBOT_SECRET", "fake-robot-token", "SECfake-robot-secret")}
# The sources template's credential variables (templates_library/sources_six_channels.op), in
# the declared order, with the fake platforms' values, and each fake's constructor parameters.
PLATFORM_CREDENTIALS: dict[str, tuple[tuple[str, str, str], ...]] = {  # channel: (variable, value, parameter)
    "douyin": (("DOUYIN_APP_KEY", "fake-douyin-key", "app_key"),
               ("DOUYIN_APP_SECRET", "fake-douyin-secret", "app_secret"),
               ("DOUYIN_ACCESS_TOKEN", "fake-douyin-token", "access_token")),
    "taobao": (("TAOBAO_APP_KEY", "12345678", "app_key"), ("TAOBAO_APP_SECRET", "fake-taobao-secret", "app_secret"),
               ("TAOBAO_SESSION_KEY", "fake-taobao-session", "access_token")),
    "pdd": (("PDD_CLIENT_ID", "fake-pdd-client", "app_key"), ("PDD_CLIENT_SECRET", "fake-pdd-secret", "app_secret"),
            ("PDD_ACCESS_TOKEN", "fake-pdd-token", "access_token")),
    "kuaishou": (("KUAISHOU_APP_KEY", "ks-fake-app", "app_key"),
                 ("KUAISHOU_SIGN_SECRET", "fake-ks-sign-secret", "sign_secret"),
                 ("KUAISHOU_ACCESS_TOKEN", "fake-ks-token", "access_token"),
                 ("KUAISHOU_MESSAGE_KEY", KUAISHOU_MESSAGE_KEY, "message_key")),
    "xiaohongshu": (("XHS_APP_ID", "fake-xhs-app", "app_id"), ("XHS_APP_SECRET", "fake-xhs-secret", "app_secret"),
                    ("XHS_ACCESS_TOKEN", "fake-xhs-token", "access_token")),
    "miniprogram": (("MINIPROGRAM_APP_KEY", "orderpulse", "app_key"),
                    ("MINIPROGRAM_APP_SECRET", "fake-miniprogram-secret", "app_secret")),
}
PLATFORM_FAKES: dict[str, Any] = {
    "douyin": FakeDouyinStock, "taobao": FakeTaobaoStock, "pdd": FakePddStock, "kuaishou": FakeKuaishouStock,
    "xiaohongshu": FakeXiaohongshuStock, "miniprogram": FakeMiniprogramStock,
    **WAYBILL_FAKES,  # the five marketplaces' gateways with their e-waybill services on them
}
KDNIAO = {"KDNIAO_EBUSINESS_ID": "1700001", "KDNIAO_APP_KEY": "fake-kdniao-key"}
DEMO_SENDER = {"ORDERPULSE_SENDER_NAME": "杭州仓", "ORDERPULSE_SENDER_PHONE": "057188886666",
               "ORDERPULSE_SENDER_PROVINCE": "浙江省", "ORDERPULSE_SENDER_CITY": "杭州市",
               "ORDERPULSE_SENDER_DISTRICT": "余杭区", "ORDERPULSE_SENDER_ADDRESS": "仓前街道良睦路1399号"}


class FakeCounterparts:
    """All fakes together; ``start()`` then ``environment()``; ``stop()`` when done."""

    def __init__(self, **kwargs: Any) -> None:
        self.wecom = FakeWeComBot(WECOM_KEYS.values(), **kwargs)
        self.feishu = FakeFeishuBot({token: secret for _, _, token, secret in FEISHU_BOTS.values()}, **kwargs)
        self.dingtalk = FakeDingTalkRobot({token: secret for _, token, secret in DINGTALK_ROBOTS.values()}, **kwargs)
        self.sms = FakeSmsGateway(**kwargs)
        self.wms = FakeWms(**kwargs)
        self.kdniao = FakeKdniao(ebusiness_id=KDNIAO["KDNIAO_EBUSINESS_ID"], app_key=KDNIAO["KDNIAO_APP_KEY"], **kwargs)
        self.platforms: dict[str, FakeServer] = {
            channel: PLATFORM_FAKES[channel](**{param: value for _, value, param in creds}, **kwargs)
            for channel, creds in PLATFORM_CREDENTIALS.items()}
        self.all: list[FakeServer] = [self.wecom, self.feishu, self.dingtalk, self.sms, self.wms, self.kdniao,
                                      *self.platforms.values()]
        self._producing = threading.Event()
        self._producer: threading.Thread | None = None

    def start(self) -> Self:
        for fake in self.all:
            fake.start()
        return self

    def stop(self) -> None:
        self._producing.set()
        for fake in self.all:
            fake.stop()

    def produce_orders(self, rate_per_minute: float = 3.0, *, lifecycle: Lifecycle = DEMO_LIFECYCLE,
                       push_base_url: str | None = None, misconfigured_coupon_on: str | None = None) -> list[str]:
        """Make every platform fake that serves orders produce them by itself (about
        ``rate_per_minute`` a minute each, a burst now and then, lives at ``lifecycle``'s
        pace), its changes applied every second; fakes that push post to
        ``<push_base_url>/api/v1/sources/<channel>/push``. ``misconfigured_coupon_on`` names
        the one platform whose shop has a :class:`MisconfiguredCoupon` (价格异常 orders).
        Returns the producing channels."""
        producing = []
        for channel, fake in self.platforms.items():
            scenario = getattr(fake, "scenario", None)
            if scenario is None:
                continue
            if channel == misconfigured_coupon_on:
                scenario.misconfigure_coupon(MisconfiguredCoupon())
            scenario.produce(rate_per_minute, lifecycle=lifecycle)
            producing.append(channel)
            push = getattr(fake, "push", None)
            if push is not None and push_base_url:
                push.push_to(f"{push_base_url.rstrip('/')}/api/v1/sources/{channel}/push")
        if producing and self._producer is None:
            self._producer = threading.Thread(target=self._advance_every_second, name="fake-order-producer",
                                              daemon=True)
            self._producer.start()
        return producing

    def _advance_every_second(self) -> None:
        while not self._producing.wait(1.0):
            for fake in self.platforms.values():
                scenario = getattr(fake, "scenario", None)
                if scenario is not None:
                    scenario.advance()

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
            "ORDERPULSE_KDNIAO_BASE_URL": self.kdniao.url,
            **KDNIAO,
            **DEMO_SENDER,
            **WECOM_KEYS,
        }
        for hook_var, secret_var, token, secret in FEISHU_BOTS.values():
            env[hook_var] = f"https://open.feishu.cn/open-apis/bot/v2/hook/{token}"
            env[secret_var] = secret
        for hook_var, (secret_var, token, secret) in DINGTALK_ROBOTS.items():
            env[hook_var] = f"https://oapi.dingtalk.com/robot/send?access_token={token}"
            env[secret_var] = secret
        for channel, creds in PLATFORM_CREDENTIALS.items():
            env[f"ORDERPULSE_{channel.upper()}_BASE_URL"] = self.platforms[channel].url
            env.update({variable: value for variable, value, _ in creds})
        return env
