"""The price stage on orders that came in from the fake platforms over real HTTP, through the
published ``sources_six_channels`` mappings, priced by the published 女装节大促
(templates_library/promotion_apparel_festival.op, ``price_check tolerance ¥10 or 5%``).

The shop's SKUs: TEA-LJ-250 ¥168.00, TEA-PE-357 ¥239.00, TSHIRT-W-M/L ¥89.90, SCARF-SILK
¥317.00. Marketplace buyers carry no member level, so 会员等级折扣 never applies to them.
"""

from __future__ import annotations

from typing import Any

from engine.orders.order_pricing import PRICE_ANOMALY
from tests.conftest import auth
from tests.order_pricing.conftest import (
    PROMOTION,
    arrive,
    events,
    price,
    stored_lines,
    stored_order,
    stored_price,
)


def test_a_mini_program_order_is_priced_by_the_promotion_and_its_gift_becomes_a_line_at_price_0(
        services: Any, platforms: Any, promotion: None) -> None:
    # 2 × 真丝围巾 (63400) + 1 × T恤 (8990) = 72390: 满500减80 beats 满300减40 (pick best) and
    # excludes 跨店每满300减30; 8000 split 63400 : 8990 → 7006.49 / 993.51 → 7006 / 994 (the
    # leftover fen to the larger remainder); goods 64390 ≥ ¥399 → 满399赠丝巾; free freight.
    shop = platforms["miniprogram"].scenario
    made = shop.create([("SCARF-SILK", 2), ("TSHIRT-W-M", 1)], freight=0, platform_discount=0, seller_discount=0)
    pk = arrive(services, "miniprogram", made)
    notes = price(services, pk)

    assert [n.kind for n in notes] == ["priced"]
    note = notes[0]
    assert (note.ruleset, note.ruleset_version) == (PROMOTION, 1)
    assert (note.detail["original"], note.detail["discount"], note.detail["goods"], note.detail["freight"],
            note.detail["payable"]) == (72390, 8000, 64390, 0, 64390)
    assert note.detail["gifts"] == [{"sku_id": "GIFT-SCARF", "qty": 1, "rule": "满399赠丝巾"}]
    assert note.detail["message"] == ("按促销 女装节大促 定价：商品应付 ¥643.90（原价 ¥723.90，优惠 ¥80.00），"
                                      "运费 ¥0.00，赠品 GIFT-SCARF×1")
    # the shop charged the list price (72390): more than the promotion asks, so no anomaly
    assert (note.detail["charged"], note.detail["allowed"], note.detail["difference"], note.detail["tolerance"]) == (
        72390, 64390, -8000, 3220)  # tolerance: max(¥10, 5% of 64390 = 3219.5 → 3220)
    # the shop sent each line's paid amount: kept; the gift is a line at price 0
    assert stored_lines(services, pk) == [("SCARF-SILK", 2, 63400, 63400), ("TSHIRT-W-M", 1, 8990, 8990),
                                          ("GIFT-SCARF", 1, 0, 0)]
    row = stored_order(services, pk)
    assert row.doc["lines"][2] == {"line_id": "gift:满399赠丝巾:GIFT-SCARF", "sku_id": "GIFT-SCARF",
                                   "title": "赠品（满399赠丝巾）", "qty": 1, "unit_price": 0, "amount": 0,
                                   "paid_amount": 0, "gift": True, "gift_rule": "满399赠丝巾"}
    assert PRICE_ANOMALY not in row.tags
    stored = stored_price(services, pk)
    assert stored is not None
    assert (stored.kind, stored.revision, stored.quoted_payable, stored.platform_payable, stored.difference,
            stored.tolerance, stored.ruleset, stored.ruleset_version) == (
        "quote", 1, 64390, 72390, -8000, 3220, PROMOTION, 1)
    quote = stored.quote
    assert [(ln["line_id"], ln["original"], ln["payable"]) for ln in quote["lines"]] == [
        ("1", 63400, 56394), ("2", 8990, 7996), ("gift:满399赠丝巾:GIFT-SCARF", 0, 0)]
    assert [d["amount"] for d in quote["lines"][0]["discounts"]] == [7006]
    assert quote["ruleset"]["name"] == PROMOTION and quote["ruleset"]["version"] == 1
    assert [e["event"] for e in quote["log"]][:1] == ["start"] and quote["log"][-1]["event"] == "total"
    assert [e.kind for e in events(services, pk)] == ["created", "priced"]


def test_the_gift_line_survives_a_newer_version_of_the_order(services: Any, platforms: Any, promotion: None) -> None:
    shop = platforms["miniprogram"].scenario
    made = shop.create([("SCARF-SILK", 2)], freight=0, platform_discount=0, seller_discount=0)
    pk = arrive(services, "miniprogram", made)
    price(services, pk)
    services.clock.advance(60)
    shop.ship(made.number)
    arrive(services, "miniprogram", made)  # the shop's newer version: shipped, no gift line in it

    row = stored_order(services, pk)
    assert (row.revision, row.status) == (2, "shipped")
    assert stored_lines(services, pk) == [("SCARF-SILK", 2, 63400, 63400), ("GIFT-SCARF", 1, 0, 0)]
    assert [ln["sku_id"] for ln in row.doc["lines"]] == ["SCARF-SILK", "GIFT-SCARF"]
    updated = [e for e in events(services, pk) if e.kind == "updated"]
    assert len(updated) == 1 and not any(c["path"].startswith("lines") for c in updated[0].changes)


def test_a_mini_program_that_charged_less_than_the_promotion_allows_is_a_price_anomaly(
        services: Any, platforms: Any, promotion: None) -> None:
    # 1 × T恤 8990, no rule applies (below every threshold), freight ¥8 below ¥99; the shop took
    # off ¥30 of its own: charged 5990 for goods the promotion prices at 8990.
    shop = platforms["miniprogram"].scenario
    made = shop.create([("TSHIRT-W-M", 1)], freight=800, platform_discount=0, seller_discount=3000)
    pk = arrive(services, "miniprogram", made)
    notes = price(services, pk)

    assert [n.kind for n in notes] == ["priced", "price_anomaly"]
    anomaly = notes[1]
    assert anomaly.tags == (PRICE_ANOMALY,)
    assert (anomaly.detail["charged"], anomaly.detail["allowed"], anomaly.detail["difference"],
            anomaly.detail["tolerance"]) == (5990, 8990, 3000, 1000)
    assert anomaly.detail["message"] == ("小程序实收商品 ¥59.90，低于促销 女装节大促 允许的最低 ¥89.90，"
                                         "少收 ¥30.00（容差 ¥10.00）")
    assert stored_order(services, pk).tags == [PRICE_ANOMALY]
    stored = stored_price(services, pk)
    assert stored is not None and (stored.quoted_payable, stored.platform_payable) == (8990 + 800, 5990 + 800)


def test_a_pdd_order_keeps_its_amounts_and_its_lines_share_the_discount_by_largest_remainder(
        services: Any, platforms: Any, promotion: None) -> None:
    # 2 × 龙井 (33600) + 1 × 真丝围巾 (31700) = 65300; the platform took off ¥5 (its red packet)
    # and the shop ¥20; freight ¥8: the buyer paid 63600, 62800 of it for the goods. PDD gives
    # no per-line figure: the 2500 discount split 33600 : 31700 = 1286.37 / 1213.63 → 1286 /
    # 1214, so the lines paid 32314 and 30486.
    shop = platforms["pdd"].scenario
    made = shop.create([("TEA-LJ-250", 2), ("SCARF-SILK", 1)], freight=800, platform_discount=500,
                       seller_discount=2000)
    pk = arrive(services, "pdd", made)
    notes = price(services, pk)

    assert stored_lines(services, pk) == [("TEA-LJ-250", 2, 33600, 32314), ("SCARF-SILK", 1, 31700, 30486)]
    assert [ln["paid_amount"] for ln in stored_order(services, pk).doc["lines"]] == [32314, 30486]
    # the check: 满500减80 (8000) and the platform's ¥5 red packet (mapped as red_packet)
    # allow goods of 65300 − 8000 − 500 = 56800; the buyer paid more: no anomaly
    assert [n.kind for n in notes] == ["price_checked"]
    assert (notes[0].detail["charged"], notes[0].detail["allowed"], notes[0].detail["difference"]) == (
        62800, 56800, -6000)
    assert notes[0].detail["message"] == "按促销 女装节大促 核价：规则允许的商品最低应付 ¥568.00，平台实收商品 ¥628.00"
    stored = stored_price(services, pk)
    assert stored is not None and (stored.kind, stored.quoted_payable, stored.platform_payable) == (
        "check", 56800, 63600)
    assert PRICE_ANOMALY not in stored_order(services, pk).tags


def test_a_misconfigured_coupon_on_pdd_makes_its_orders_price_anomalies(
        services: Any, platforms: Any, promotion: None) -> None:
    # 满300减50 entered as 满30减50: 2 × T恤 (17980) reach ¥30 and lose ¥50; the promotion
    # gives nothing below ¥300, so it allows 17980; charged 12980: ¥50 short, beyond max(¥10,
    # 5% of 17980 = 899) = ¥10.
    shop = platforms["pdd"].scenario
    shop.misconfigure_coupon()
    made = shop.create([("TSHIRT-W-M", 2)], freight=0, platform_discount=0, seller_discount=0)
    pk = arrive(services, "pdd", made)
    notes = price(services, pk)

    assert [n.kind for n in notes] == ["price_checked", "price_anomaly"]
    detail = notes[1].detail
    assert (detail["charged"], detail["allowed"], detail["difference"], detail["tolerance"]) == (12980, 17980, 5000,
                                                                                                 1000)
    assert detail["message"] == ("平台实收商品 ¥129.80，低于促销 女装节大促 允许的最低 ¥179.80，少收 ¥50.00（容差 ¥10.00）")
    assert (notes[1].ruleset, notes[1].ruleset_version) == (PROMOTION, 1)
    assert stored_order(services, pk).tags == [PRICE_ANOMALY]
    assert stored_lines(services, pk) == [("TSHIRT-W-M", 2, 17980, 12980)]
    timeline = events(services, pk)
    assert [e.kind for e in timeline] == ["created", "price_checked", "price_anomaly"]
    assert timeline[2].detail["difference"] == 5000 and timeline[2].ruleset_version == 1


def test_taobao_and_douyin_lines_keep_the_paid_share_the_platform_gives(
        services: Any, platforms: Any, promotion: None) -> None:
    # Taobao: 普洱 23900 + T恤 8990, the shop's ¥10 split 727 / 273 by the platform
    # (divide_order_fee); Douyin: one 真丝围巾 31700 less the platform's ¥5 (sku pay_amount).
    taobao = platforms["taobao"].scenario.create([("TEA-PE-357", 1), ("TSHIRT-W-L", 1)], freight=0,
                                                 platform_discount=0, seller_discount=1000)
    douyin = platforms["douyin"].scenario.create([("SCARF-SILK", 1)], freight=0, platform_discount=500,
                                                 seller_discount=0)
    tb, dy = arrive(services, "taobao", taobao), arrive(services, "douyin", douyin)
    tb_notes, dy_notes = price(services, tb), price(services, dy)

    assert stored_lines(services, tb) == [("TEA-PE-357", 1, 23900, 23173), ("TSHIRT-W-L", 1, 8990, 8717)]
    assert stored_lines(services, dy) == [("SCARF-SILK", 1, 31700, 31200)]
    # Taobao: 满300减40 → 28890 allowed (跨店 gives 0: 28890 is below one ¥300 step)
    assert (tb_notes[0].detail["charged"], tb_notes[0].detail["allowed"]) == (31890, 28890)
    # Douyin: 满300减40 and the platform's ¥5 (promotion_platform_amount → red_packet) → 27200
    assert (dy_notes[0].detail["charged"], dy_notes[0].detail["allowed"]) == (31200, 27200)
    assert [n.kind for n in tb_notes + dy_notes] == ["price_checked", "price_checked"]


def test_without_a_published_promotion_the_stage_says_so_and_passes(services: Any, platforms: Any) -> None:
    made = platforms["pdd"].scenario.create([("TSHIRT-W-M", 1)], freight=0, platform_discount=0, seller_discount=0)
    pk = arrive(services, "pdd", made)
    notes = price(services, pk)
    assert [(n.kind, n.detail, n.tags, n.hold) for n in notes] == [
        ("price_skipped", {"message": "没有已发布的促销，未核价"}, (), None)]
    assert stored_price(services, pk) is None
    assert stored_lines(services, pk) == [("TSHIRT-W-M", 1, 8990, None)]
    assert [e.kind for e in events(services, pk)] == ["created", "price_skipped"]


def test_the_order_api_shows_the_price_section(services: Any, platforms: Any, promotion: None, client: Any,
                                               tokens: dict[str, str]) -> None:
    shop = platforms["pdd"].scenario
    shop.misconfigure_coupon()
    made = shop.create([("TSHIRT-W-M", 2)], freight=0, platform_discount=0, seller_discount=0)
    pk = arrive(services, "pdd", made)
    before = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["cs"])).get_json()
    assert before["price"] is None
    price(services, pk)
    body = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["cs"])).get_json()
    section = body["price"]
    assert {k: section[k] for k in ("kind", "revision", "ruleset", "quoted_payable", "platform_payable",
                                    "difference", "tolerance", "anomaly")} == {
        "kind": "check", "revision": 1, "ruleset": {"name": PROMOTION, "version": 1}, "quoted_payable": 17980,
        "platform_payable": 12980, "difference": 5000, "tolerance": 1000, "anomaly": True}
    assert section["quote"]["totals"]["goods"] == 17980 and section["quote"]["ruleset"]["version"] == 1
    assert body["tags"] == [PRICE_ANOMALY]
    assert [ln["paid_amount"] for ln in body["lines"]] == [12980]
    assert [e["kind"] for e in body["timeline"]] == ["created", "price_checked", "price_anomaly"]


def _own_order(order_id: str, lines: list[dict[str, Any]], level: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"order_id": order_id, "channel": "miniprogram", "status": "awaiting_shipment",
                            "created_at": "2026-11-11T10:00:00+08:00", "updated_at": "2026-11-11T10:00:05+08:00",
                            "receiver": {"name": "王芳", "province": "浙江省", "city": "杭州市"}, "lines": lines}
    if level is not None:
        body["customer"] = {"id": "M1", "level": level}
    return body


def test_an_own_order_posted_without_paid_amounts_pays_what_the_promotion_quotes(
        services: Any, promotion: None, client: Any, tokens: dict[str, str]) -> None:
    # 金卡 on 真丝围巾 31700 + T恤 8990 = 40690: 95折 1585 + 450 (449.5 half up) → 30115 / 8540;
    # 满300减40 split 3116.28 / 883.71 → 3116 / 884 → 26999 / 7656; 跨店每满300减30 on 34655
    # gives 3000, split 2337.24 / 662.75 → 2337 / 663 → 24662 / 6993; goods 31655, no gift
    # (below ¥399), free freight. No payment figure: nothing to check.
    body = _own_order("MP-API-1", [
        {"line_id": "L1", "sku_id": "SCARF-SILK", "qty": 1, "unit_price": 31700},
        {"line_id": "L2", "sku_id": "TSHIRT-W-M", "qty": 1, "unit_price": 8990}], level="金卡")
    resp = client.post("/api/v1/orders", json=body, headers=auth(tokens["ops"]))
    assert resp.status_code == 201, resp.get_json()
    pk = resp.get_json()["order"]["id"]
    notes = price(services, pk)
    assert [n.kind for n in notes] == ["priced"]
    assert (notes[0].detail["discount"], notes[0].detail["goods"], notes[0].detail["gifts"]) == (9035, 31655, [])
    assert "charged" not in notes[0].detail
    assert stored_lines(services, pk) == [("SCARF-SILK", 1, None, 24662), ("TSHIRT-W-M", 1, None, 6993)]
    stored = stored_price(services, pk)
    assert stored is not None and (stored.kind, stored.quoted_payable, stored.platform_payable, stored.tolerance) == (
        "quote", 31655, None, None)
    discounts = [[(d["rule"], d["amount"]) for d in ln["discounts"]] for ln in stored.quote["lines"]]
    assert discounts == [[("金卡95折", 1585), ("满300减40", 3116), ("跨店每满300减30", 2337)],
                         [("金卡95折", 450), ("满300减40", 884), ("跨店每满300减30", 663)]]


def test_running_the_stage_again_on_the_same_version_adds_nothing_twice(
        services: Any, platforms: Any, promotion: None) -> None:
    shop = platforms["miniprogram"].scenario
    made = shop.create([("SCARF-SILK", 2)], freight=0, platform_discount=0, seller_discount=6000)
    pk = arrive(services, "miniprogram", made)
    first = price(services, pk)
    again = price(services, pk)  # e.g. a retry after a crash between the stage and its commit
    assert [n.kind for n in first] == [n.kind for n in again] == ["priced"]
    assert stored_lines(services, pk) == [("SCARF-SILK", 2, 63400, 57400), ("GIFT-SCARF", 1, 0, 0)]
    assert stored_order(services, pk).tags == []
    stored = stored_price(services, pk)
    assert stored is not None and stored.quoted_payable == 63400 - 8000


def test_an_order_the_promotion_cannot_read_is_noted_with_its_field_paths_and_passes(
        services: Any, promotion: None) -> None:
    from datetime import UTC, datetime

    from engine.orders import store

    at = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
    stored = store.store_order(services.db, store.Incoming(
        {"channel": "taobao", "order_id": "TB-NOSKU", "status": "awaiting_shipment", "updated_at": at,
         "lines": [{"line_id": "1", "qty": 1, "unit_price": 1000}]}, "taobao", "import"), now=at)
    notes = price(services, stored.order_pk)
    assert [(n.kind, n.detail) for n in notes] == [("price_unreadable", {
        "message": "订单无法按促销 女装节大促 核价", "problems": [{"path": "/lines/0/sku_id", "message": "is required (text)"}]})]
    assert notes[0].ruleset == PROMOTION and stored_price(services, stored.order_pk) is None


def test_lines_without_a_platform_figure_share_what_the_others_did_not_pay(services: Any, promotion: None) -> None:
    # one line says it paid 9000 of its 10000; the buyer paid 22000 for goods of 25000, so the
    # other two (10000 and 5000) paid 13000: their 2000 discount split 1333.33 / 666.67 →
    # 1333 / 667 (the leftover fen to the larger remainder).
    from datetime import UTC, datetime

    from engine.orders import store

    at = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
    stored = store.store_order(services.db, store.Incoming(
        {"channel": "taobao", "order_id": "TB-PART", "status": "awaiting_shipment", "updated_at": at,
         "payment": {"paid_amount": 22000}, "freight": 0,
         "lines": [{"line_id": "1", "sku_id": "A", "qty": 1, "unit_price": 10000, "paid_amount": 9000},
                   {"line_id": "2", "sku_id": "B", "qty": 2, "unit_price": 5000},
                   {"line_id": "3", "sku_id": "C", "qty": 1, "unit_price": 5000}]}, "taobao", "import"), now=at)
    price(services, stored.order_pk)
    assert [paid for *_, paid in stored_lines(services, stored.order_pk)] == [9000, 8667, 4333]
