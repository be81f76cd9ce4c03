"""会有什么变化 streams its answer: progress after each batch of stored orders (newest first, read
batch by batch), then the result with one entry per comparison; the price comparison lists the
orders whose payable changes with the exact total."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.builder.conftest import csrf_of
from tests.orders.order_factory import order_py

R = "promotion_apparel_festival"
FESTIVAL = (Path(__file__).resolve().parents[2] / "templates_library" / f"{R}.op").read_text(encoding="utf-8")


@pytest.fixture
def published_with_orders(services: Any, festival: str) -> None:
    from engine.orders.store import Incoming, store_order
    from engine.rulesets import service

    with services.db.transaction() as s:
        service.publish(s, R, actor="setup", now=services.clock.now())
    # five orders, one a minute; 35000 and 39900 fen pass the ¥300 coupon threshold
    for i, amount in enumerate((35000, 20000, 39900, 10000, 31000)):
        line = {"line_id": "1", "sku_id": "DRESS-1", "title": "连衣裙", "qty": 1, "unit_price": amount, "amount": amount}
        order = order_py(f"DY-{i}", lines=[line])
        order["created_at"] = datetime(2026, 3, 8, 12, i, tzinfo=UTC)
        store_order(services.db, Incoming(order=order, source="douyin", via="pull"),
                    now=datetime(2026, 3, 8, 12, 0, tzinfo=UTC) + timedelta(minutes=i))


def _lines(resp: Any) -> list[dict[str, Any]]:
    assert resp.mimetype == "application/x-ndjson"
    return [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]


def test_progress_after_each_batch_then_the_result(signed_in: Any, published_with_orders: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from builder_ui import whatif

    monkeypatch.setattr(whatif, "BATCH", 2)
    ops = signed_in("ops")
    draft = FESTIVAL.replace("amount_off ¥40", "amount_off ¥50")
    resp = ops.post(f"/rulesets/{R}/what-changes", json={"content": draft, "n": 1000},
                    headers={"X-CSRFToken": csrf_of(ops.get("/").data)})
    assert resp.status_code == 200
    lines = _lines(resp)
    assert [line["progress"] for line in lines[:-1]] == [
        {"done": 0, "total": 5}, {"done": 2, "total": 5}, {"done": 4, "total": 5}, {"done": 5, "total": 5}]
    result = lines[-1]["result"]
    assert result["examined"] == 5 and result["summary"] == "3 单优惠变化，合计 -¥30.00"
    price, price_check = result["comparisons"]
    assert price_check["key"] == "price_check" and price_check["summary"] == "0 单价格异常标记变化"
    assert price["key"] == "price" and price["table_label"] == "价格变化的订单"
    assert price["columns"] == ["渠道", "订单号", "已发布应付", "草稿应付", "变化"]
    # published: 满300减40, then 跨店每满300减30 on what is left; the draft's coupon takes ¥10 more off
    assert price["rows"] == [["douyin", "DY-4", "¥270.00", "¥260.00", "-¥10.00"],
                             ["douyin", "DY-2", "¥329.00", "¥319.00", "-¥10.00"],
                             ["douyin", "DY-0", "¥280.00", "¥270.00", "-¥10.00"]]
    assert price["totals"] == {"delta_fen": -3000}

    resp = ops.post(f"/rulesets/{R}/what-changes", json={"content": draft, "n": 3},
                    headers={"X-CSRFToken": csrf_of(ops.get("/").data)})
    lines = _lines(resp)
    assert [line["progress"]["done"] for line in lines[:-1]] == [0, 2, 3]
    assert lines[-1]["result"]["summary"] == "2 单优惠变化，合计 -¥20.00"


def test_a_draft_that_does_not_price_answers_at_once_without_a_stream(signed_in: Any,
                                                                      published_with_orders: None) -> None:
    ops = signed_in("ops")
    resp = ops.post(f"/rulesets/{R}/what-changes", json={"content": "promotion p { tier t pick best { } ", "n": 10},
                    headers={"X-CSRFToken": csrf_of(ops.get("/").data)})
    assert resp.mimetype == "application/json"
    assert resp.get_json()["ok"] is False and resp.get_json()["error"].startswith("草稿：规则有错误，无法试算：")
