"""Small helpers for the ruleset tests: contents that are valid rulesets, an API caller and a
publisher."""

from __future__ import annotations

from typing import Any

from tests.conftest import auth

# Declarations 运营 may publish (channels, hooks and sources need 管理员: see test_publish_roles).
L1 = 'risk 疑似黄牛 { when count(orders by buyer_phone within 1h) >= 5 then flag "疑似黄牛" hold }'
L2 = 'risk 大额订单 { when order.payment.paid_amount >= ¥5000 then flag "大额订单" }'
L3 = 'risk 多地址 { when distinct(receiver.city of orders by buyer_phone within 1h) >= 3 then flag "多地址" }'
CHANNELS = "channel 仓储群 feishu { webhook env FEISHU_WAREHOUSE_HOOK, secret env FEISHU_WAREHOUSE_SECRET }"

BASE = "/api/v1/rulesets"


def text(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


def publish_content(services: Any, name: str, content: str, actor: str = "li") -> None:
    """Create ruleset ``name`` with ``content`` and publish it as version 1 (service calls, no HTTP)."""
    from engine.rulesets import service

    now = services.clock.now()
    with services.db.transaction(immediate=True) as s:
        service.create_ruleset(s, name=name, content=content, actor=actor, now=now)
    with services.db.transaction(immediate=True) as s:
        service.publish(s, name, actor=actor, now=now)


class Api:
    """Calls the rulesets API as a given role and returns (status, json)."""

    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def call(self, method: str, path: str, role: str = "ops", body: Any = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": auth(self.tokens[role])}
        if body is not None:
            kwargs["json"] = body
        resp = self.client.open(BASE + path, method=method, **kwargs)
        return resp.status_code, resp.get_json(silent=True)

    def get(self, path: str, role: str = "ops") -> Any:
        status, body = self.call("GET", path, role)
        assert status == 200, body
        return body

    def snapshot(self, name: str) -> dict[str, Any]:
        """Everything observable about a ruleset, to prove a refused call changed nothing."""
        return {
            "ruleset": self.get(f"/{name}"),
            "draft": self.get(f"/{name}/draft"),
            "versions": [self.get(f"/{name}/versions/{v['version']}") for v in self.get(f"/{name}/versions")],
            "audit": self.get(f"/{name}/audit"),
        }
