"""The six library mappings turn each platform's real order payload into the normalized order:
exact fen, UTC instants, merchant SKU codes, canonical status; a payload that does not fit is
refused with the payload path and the mapping line, and nothing else ever escapes."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsl
from engine.orders.mapping import MappingFailure, compile_mapping
from tests.orders.helpers import payload, template_line, template_mappings

UTC = dt.UTC
MAPPINGS = template_mappings()


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_taobao_trade_in_yuan_strings_and_shanghai_times() -> None:
    order = MAPPINGS["taobao"].apply(payload("taobao_trade_paid.json"))
    assert order["channel"] == "taobao" and order["order_id"] == "3812345678901234567"
    assert order["status"] == "awaiting_shipment"
    assert order["created_at"] == utc(2024, 3, 8, 12, 15, 42)   # 20:15:42 in Shanghai
    assert order["paid_at"] == utc(2024, 3, 8, 12, 16, 5)
    assert order["updated_at"] == utc(2024, 3, 8, 12, 16, 7)
    assert order["promised_ship_at"] == utc(2024, 3, 10, 12, 16, 5)
    assert order["shipped_at"] is None                          # consign_time ""
    assert order["payment"] == {"paid_amount": 51760} and order["freight"] == 0
    assert [(ln["sku_id"], ln["platform_sku_id"], ln["qty"], ln["unit_price"], ln["amount"], ln["paid_amount"])
            for ln in order["lines"]] == [("TEA-LJ-250", "5012345678901", 2, 19900, 39800, 36913),
                                          ("SCARF-SILK", "5012345678955", 1, 16000, 16000, 14847)]
    assert sum(ln["paid_amount"] for ln in order["lines"]) == order["payment"]["paid_amount"]
    assert order["receiver"]["cipher"] == {"oaid": payload("taobao_trade_paid.json")["oaid"]}
    assert order["receiver"]["phone"] == "138****5678" and order["refunds"] == []


def test_taobao_city_falls_back_to_the_district_and_refunds_come_from_sub_orders() -> None:
    order = MAPPINGS["taobao"].apply(payload("taobao_trade_refund_county.json"))
    assert order["receiver"]["city"] == "仙桃市" and order["receiver"]["province"] == "湖北省"
    assert order["status"] == "shipped" and order["shipped_at"] == utc(2024, 3, 9, 9, 45, 12)
    assert order["freight"] == 1000 and order["payment"]["paid_amount"] == 8990
    # the refund's status in the canonical refund statuses; without the refund from taobao.refund.get
    # its amount is the sub-order's paid share and its reason unknown
    assert order["refunds"] == [{"refund_id": "205123456789012345", "line_id": "3823456789012345679",
                                 "sku_id": "TSHIRT-W-L", "amount": 7990, "reason": None, "status": "requested"}]


@pytest.mark.parametrize("as_float", [False, True])
def test_pdd_yuan_numbers_are_exact_whether_read_as_decimals_or_floats(as_float: bool) -> None:
    data = payload("pdd_order_info.json")
    if as_float:
        data = {k: float(v) if isinstance(v, Decimal) else v for k, v in data.items()}
        data["item_list"] = [{k: float(v) if isinstance(v, Decimal) else v for k, v in item.items()}
                             for item in data["item_list"]]
    order = MAPPINGS["pdd"].apply(data)
    assert order["order_id"] == "240308-512345678901234" and order["status"] == "awaiting_shipment"
    assert order["payment"]["paid_amount"] == 19880
    assert [(ln["line_id"], ln["sku_id"], ln["qty"], ln["unit_price"], ln["amount"]) for ln in order["lines"]] == [
        ("512345678901-1234567890123", "TEA-PE-357", 1, 12880, 12880),
        ("512345678902-1234567890188", "TSHIRT-W-M", 2, 5000, 10000)]
    assert order["created_at"] == utc(2024, 3, 8, 13, 40, 3)
    assert order["receiver"]["name"] == "赵*" and order["receiver"]["cipher"]["phone"].startswith("$")


def test_douyin_fen_and_unix_seconds() -> None:
    order = MAPPINGS["douyin"].apply(payload("douyin_shop_order_detail.json"))
    assert order["order_id"] == "6920123456789012345" and order["status"] == "awaiting_shipment"
    assert order["created_at"] == utc(2024, 3, 8, 12, 30) and order["shipped_at"] is None  # ship_time 0
    assert order["payment"]["paid_amount"] == 31700
    assert [(ln["line_id"], ln["sku_id"], ln["qty"], ln["unit_price"], ln["amount"], ln["paid_amount"])
            for ln in order["lines"]] == [("6920123456789012346", "TEA-LJ-250", 1, 19900, 19900, 18700),
                                          ("6920123456789012347", "TSHIRT-W-M", 2, 6900, 13800, 13000)]
    receiver = order["receiver"]
    assert (receiver["name"], receiver["province"], receiver["city"], receiver["district"]) == \
        ("陈**", "重庆市", "重庆市", "璧山区")
    assert set(receiver["cipher"]) == {"name", "phone", "address"}


def test_kuaishou_xiaohongshu_and_the_mini_program() -> None:
    ks = MAPPINGS["kuaishou"].apply(payload("kuaishou_order_detail.json"))
    assert (ks["order_id"], ks["status"], ks["paid_at"]) == (
        "2412345678901234", "awaiting_shipment", utc(2024, 3, 8, 13, 40, 15, 456000))
    assert [(ln["sku_id"], ln["unit_price"], ln["paid_amount"]) for ln in ks["lines"]] == [("TEA-LJ-250", 26800, 25800)]
    xhs = MAPPINGS["xiaohongshu"].apply(payload("xiaohongshu_order_detail.json"))
    assert xhs["status"] == "awaiting_shipment" and xhs["payment"]["paid_amount"] == 21600
    assert [(ln["sku_id"], ln["amount"], ln["paid_amount"]) for ln in xhs["lines"]] == [
        ("SCARF-SILK", 16000, 14200), ("TSHIRT-W-L", 8000, 7400)]
    mp = MAPPINGS["miniprogram"].apply(payload("miniprogram_order.json"))
    assert (mp["channel"], mp["status"], mp["customer"]["level"]) == ("miniprogram", "awaiting_shipment", "金卡")
    assert mp["created_at"] == utc(2024, 3, 8, 14, 30, 15) and mp["coupons"] == ["满300减20"]
    assert sum(ln["paid_amount"] for ln in mp["lines"]) == mp["payment"]["paid_amount"] == 31900


STATUS_CASES = [
    ("taobao", "taobao_trade_paid.json", ("status",), [
        ("WAIT_BUYER_PAY", "pending_payment"), ("TRADE_NO_CREATE_PAY", "pending_payment"),
        ("PAID_FORBID_CONSIGN", "paid_hold"), ("SELLER_CONSIGNED_PART", "partially_shipped"),
        ("WAIT_BUYER_CONFIRM_GOODS", "shipped"), ("TRADE_BUYER_SIGNED", "delivered"),
        ("TRADE_FINISHED", "completed"), ("TRADE_CLOSED", "cancelled"), ("TRADE_CLOSED_BY_TAOBAO", "cancelled")]),
    ("douyin", "douyin_shop_order_detail.json", ("order_status",), [
        (1, "pending_payment"), (105, "paid_hold"), (2, "awaiting_shipment"), (101, "partially_shipped"),
        (3, "shipped"), (4, "cancelled"), (5, "completed"), ("3", "shipped")]),
    ("kuaishou", "kuaishou_order_detail.json", ("orderBaseInfo", "status"), [
        (10, "pending_payment"), (30, "awaiting_shipment"), (40, "shipped"), (50, "delivered"),
        (70, "completed"), (80, "cancelled")]),
    ("xiaohongshu", "xiaohongshu_order_detail.json", ("orderStatus",), [
        (1, "pending_payment"), (2, "paid_hold"), (3, "paid_hold"), (4, "awaiting_shipment"),
        (5, "partially_shipped"), (6, "shipped"), (7, "completed"), (8, "cancelled"), (9, "cancelled")]),
    ("pdd", "pdd_order_info.json", ("order_status",), [(1, "awaiting_shipment"), (2, "shipped"), (3, "delivered")]),
]


@pytest.mark.parametrize(("mapping", "file", "path", "cases"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_platform_status_codes_map_to_the_canonical_statuses(mapping: str, file: str, path: tuple[str, ...],
                                                             cases: list[tuple[Any, str]]) -> None:
    for code, canonical in cases:
        data = payload(file)
        holder = data
        for seg in path[:-1]:
            holder = holder[seg]
        holder[path[-1]] = code
        assert MAPPINGS[mapping].apply(data)["status"] == canonical, code


def test_pdd_cancellations_refunds_and_risk_holds_win_over_the_order_status() -> None:
    for changes, expected in [({"confirm_status": 2}, "cancelled"), ({"refund_status": 4}, "cancelled"),
                              ({"risk_control_status": 1}, "paid_hold"), ({"refund_status": 2}, "awaiting_shipment")]:
        data = payload("pdd_order_info.json")
        data.update(changes)
        assert MAPPINGS["pdd"].apply(data)["status"] == expected, changes


# --------------------------------------------------------------------------- refusals


def refused(mapping: str, data: Any) -> str:
    with pytest.raises(MappingFailure) as exc:
        MAPPINGS[mapping].apply(data)
    return str(exc.value)


def test_a_bad_price_names_its_payload_path_and_the_mapping_line() -> None:
    data = payload("taobao_trade_paid.json")
    data["orders"]["order"][1]["price"] = "abc"
    line = template_line("taobao", "price = yuan(price)")
    assert refused("taobao", data) == f'$.orders.order[1].price: "abc" is not a yuan amount (mapping taobao, line {line})'
    data["orders"]["order"][1]["price"] = "19.999"
    assert refused("taobao", data) == (f'$.orders.order[1].price: "19.999" has more than 2 decimals; a yuan amount '
                                       f"has at most 2 (fen) (mapping taobao, line {line})")


def test_missing_and_mistyped_fields_are_refused_where_they_are() -> None:
    data = payload("taobao_trade_paid.json")
    del data["tid_str"]
    assert refused("taobao", data) == f"$.tid_str: missing (mapping taobao, line {template_line('taobao', 'order_id = tid_str')})"
    data = payload("taobao_trade_paid.json")
    data["created"] = "2024-13-01 00:00:00"
    assert refused("taobao", data) == ('$.created: "2024-13-01 00:00:00" is not a valid date and time '
                                       f"(mapping taobao, line {template_line('taobao', 'created_at = from_shanghai(created)')})")
    data = payload("taobao_trade_paid.json")
    data["orders"]["order"][0]["outer_sku_id"] = ""
    data["orders"]["order"][0]["outer_iid"] = ""
    assert refused("taobao", data) == ("$.orders.order[0].outer_sku_id: missing (mapping taobao, line "
                                       f"{template_line('taobao', 'sku_id = coalesce(outer_sku_id, outer_iid)')})")
    data = payload("douyin_shop_order_detail.json")
    data["sku_order_list"][1]["item_num"] = "two"
    assert refused("douyin", data) == ('$.sku_order_list[1].item_num: "two" is not a quantity (mapping douyin, '
                                       f"line {template_line('douyin', 'qty = item_num')})")
    data = payload("douyin_shop_order_detail.json")
    data["sku_order_list"] = "none"
    assert refused("douyin", data).startswith('$.sku_order_list: "none" is not a list (mapping douyin, line ')
    data = payload("douyin_shop_order_detail.json")
    data["sku_order_list"][0] = 7
    assert refused("douyin", data).startswith("$.sku_order_list[0]: 7 is not an object (mapping douyin, line ")
    data = payload("kuaishou_order_detail.json")
    data["orderItemInfo"]["num"] = -1
    assert refused("kuaishou", data).startswith("$.orderItemInfo.num: -1 is not a quantity between 0 and 1,000,000")


def test_an_unknown_status_code_parks_the_order_rather_than_guessing() -> None:
    data = payload("douyin_shop_order_detail.json")
    data["order_status"] = 99
    line = template_line("douyin", 'status = order_status map { 1: "pending_payment", 105: "paid_hold", '
                                   '2: "awaiting_shipment", 101: "partially_shipped", 3: "shipped", '
                                   '4: "cancelled", 5: "completed" }')
    assert refused("douyin", data) == f"$.order_status: 99 is not one of the codes in the map (mapping douyin, line {line})"


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    assert refused("pdd", [1, 2]).startswith("$: the payload is not a JSON object (mapping pdd, line ")
    assert refused("pdd", "order").startswith("$: the payload is not a JSON object")


SMALL = """source shop {
    platform douyin
}

mapping shop {
    order_id = id
    status = st map { 1: "paid_hold", else "awaiting_shipment" }
    created_at = from_unix(ct)
    freight = post
    lines = each items where present(sku) {
        sku_id = sku
        qty = n
        price = fen(p)
    }
}
"""


def small() -> Any:
    ruleset = dsl.parse_text(SMALL, "small.op")
    assert dsl.check(ruleset) == []
    return compile_mapping(ruleset.find("mapping", "shop"), platform="douyin")  # type: ignore[arg-type]


def test_exact_messages_and_lines_in_a_small_mapping() -> None:
    mapping = small()
    good = {"id": 7, "st": 9, "ct": 1700000000, "post": 500,
            "items": [{"sku": "A", "n": 2, "p": 150}, {"sku": "", "n": 1, "p": 1}, {"n": 1}]}
    order = mapping.apply(good)
    assert order == {"order_id": "7", "status": "awaiting_shipment", "created_at": utc(2023, 11, 14, 22, 13, 20),
                     "freight": 500, "lines": [{"sku_id": "A", "qty": 2, "unit_price": 150, "amount": 300}],
                     "channel": "douyin"}
    for change, message in [
        ({"post": "5.00"}, ('$.post: "5.00" is not an amount in fen (the mapping should read it with yuan() or '
                           "fen()) (mapping shop, line 9)")),
        ({"ct": 1700000000000}, ("$.ct: 1700000000000 is not a time in unix seconds between 2000 and 2100 "
                                "(milliseconds? use from_unix_ms) (mapping shop, line 8)")),
        ({"items": [{"sku": "A", "n": 1, "p": 1.5}]}, "$.items[0].p: 1.5 is not an amount in fen (mapping shop, line 13)"),
        ({"items": [{"sku": "A", "n": {"x": 1}, "p": 1}]}, ("$.items[0].n: an object is not a quantity "
                                                           "(mapping shop, line 12)")),
        ({"id": None}, "$.id: missing (mapping shop, line 6)"),
        ({"id": [1]}, "$.id: a list is not text (mapping shop, line 6)"),
    ]:
        with pytest.raises(MappingFailure) as exc:
            mapping.apply({**good, **change})
        assert str(exc.value) == message
    failure = exc.value
    assert (failure.mapping, failure.line, failure.path, failure.message) == ("shop", 6, "$.id", "a list is not text")


def test_the_input_payload_is_never_changed() -> None:
    data = payload("taobao_trade_paid.json")
    before = copy.deepcopy(data)
    MAPPINGS["taobao"].apply(data)
    assert data == before


def test_a_mapping_whose_channel_cannot_be_told_is_refused_at_compile_time() -> None:
    ruleset = dsl.parse_text('source flagship { platform taobao }\nmapping flagship { order_id = tid }\n')
    decl = ruleset.find("mapping", "flagship")
    with pytest.raises(ValueError, match="platform is unknown"):
        compile_mapping(decl)  # type: ignore[arg-type]
    assert compile_mapping(decl, platform="taobao").apply({"tid": 1}) == {"order_id": "1", "channel": "taobao"}  # type: ignore[arg-type]


def test_export_rows_keyed_by_the_chinese_headers() -> None:
    taobao = MAPPINGS["taobao_export"].apply({
        "订单编号": "3812345678901234567", "买家会员名": "t**2", "买家应付货款": "398.00", "买家应付邮费": "0.00",
        "买家实际支付金额": "369.13", "订单状态": "买家已付款，等待卖家发货", "收货人姓名": "王**",
        "收货地址": "浙江省 杭州市 临平区 南苑街道人民大道***号", "联系手机": "138****5678",
        "订单创建时间": "2024-03-08 20:15:42", "订单付款时间": "2024-03-08 20:16:05", "宝贝标题": "西湖龙井 250g",
        "宝贝总数量": "2", "商家编码": "TEA-LJ-250"})
    assert (taobao["channel"], taobao["status"], taobao["payment"]["paid_amount"]) == ("taobao", "awaiting_shipment", 36913)
    assert taobao["lines"] == [{"sku_id": "TEA-LJ-250", "title": "西湖龙井 250g", "qty": 2, "amount": 39800}]
    assert taobao["paid_at"] == utc(2024, 3, 8, 12, 16, 5) == taobao["updated_at"]
    douyin = MAPPINGS["douyin_export"].apply({
        "主订单编号": "6920123456789012345", "子订单编号": "6920123456789012346", "选购商品": "西湖龙井 250g",
        "商品ID": "3612345678901234567", "商品数量": "1", "商家编码": "TEA-LJ-250", "商品单价": "199.00",
        "订单应付金额": "187.00", "运费": "0", "订单提交时间": "2024-03-08 20:30:00",
        "支付完成时间": "2024-03-08 20:30:12", "订单完成时间": "", "承诺发货时间": "2024-03-10 20:30:12",
        "订单状态": "待发货", "收件人": "陈**", "收件人手机号": "1**********0", "收件地址": "重庆市重庆市璧山区***"})
    assert (douyin["channel"], douyin["order_id"], douyin["status"]) == ("douyin", "6920123456789012345", "awaiting_shipment")
    assert douyin["lines"] == [{"line_id": "6920123456789012346", "sku_id": "TEA-LJ-250",
                                "platform_sku_id": "3612345678901234567", "title": "西湖龙井 250g", "qty": 1,
                                "unit_price": 19900, "amount": 19900}]
    assert douyin["updated_at"] == utc(2024, 3, 8, 12, 30, 12)


# --------------------------------------------------------------------------- never another exception

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
                    | st.decimals(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
                    max_leaves=30)
KEYS = ["tid_str", "status", "created", "modified", "orders", "order", "price", "num", "outer_sku_id",
        "order_id", "order_status", "create_time", "update_time", "sku_order_list", "item_num", "origin_amount",
        "code", "order_sn", "item_list", "goods_price", "orderBaseInfo", "oid", "orderItemInfo", "skuList",
        "orderStatus", "items", "qty", "confirm_status", "refund_status", "refund_id", "post_fee"]
SHAPED = st.recursive(st.none() | st.integers(min_value=-10, max_value=2 * 10**12) | st.text(max_size=20)
                      | st.sampled_from(["517.60", "WAIT_SELLER_SEND_GOODS", "2024-03-08 20:15:42", "", "1e9"])
                      | st.floats(allow_nan=True),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=8),
                      max_leaves=40)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(MAPPINGS)), data=JSON | SHAPED)
def test_any_json_gives_a_normalized_order_or_a_mapping_failure(name: str, data: Any) -> None:
    try:
        order = MAPPINGS[name].apply(data)
    except MappingFailure as exc:
        assert str(exc).startswith("$") and f"(mapping {name}, line " in str(exc)
        return
    assert isinstance(order, dict) and isinstance(order["order_id"], str) and order["channel"]


@settings(max_examples=200)
@given(st.data())
def test_mutating_one_field_of_a_real_payload_never_escapes(data: st.DataObject) -> None:
    files = {"taobao": "taobao_trade_paid.json", "pdd": "pdd_order_info.json", "douyin": "douyin_shop_order_detail.json",
             "kuaishou": "kuaishou_order_detail.json", "xiaohongshu": "xiaohongshu_order_detail.json",
             "miniprogram": "miniprogram_order.json"}
    name = data.draw(st.sampled_from(sorted(files)))
    doc = payload(files[name])
    key = data.draw(st.sampled_from(sorted(doc)))
    doc[key] = data.draw(JSON)
    try:
        MAPPINGS[name].apply(doc)
    except MappingFailure as exc:
        assert f"(mapping {name}, line " in str(exc)
