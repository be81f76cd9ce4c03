"""Mapping and cleaning speed: platform payloads → normalized orders, per order.

In one process, over the sample payloads of tests/orders/payloads:
- each of the six library mappings (``sources_six_channels``), compiled once, applied to its
  platform's payload (generated Python with typed targets and payload paths for errors);
- the library cleaning (phones, drop rule; the region step with a dictionary resolver, so the
  figure is the step's own cost, not an address data set's);
- the Taobao mapping written by hand as a plain Python function (same exact conversions, same
  result, no error paths), the baseline the generated code is measured against;
- ``json.loads`` of the same Taobao payload, for scale (intake parses every payload).
Before timing, the hand-written Taobao function and the compiled mapping must give equal
orders, so both sides do the same work.

Run: ``python bench/mapping.py`` (``--repeat R``). Goal: well under 0.1 ms per order for
map + clean (intake's budget is 0.5 ms per order at 2,000 orders/s including storage).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dsl import parse_text
from dsl.conversions import coalesce, from_shanghai, yuan
from dsl.model import CleaningDecl
from engine.orders.cleaning import compile_cleaning
from engine.orders.mapping import compile_ruleset_mappings
from engine.orders.ports import Region

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "orders" / "payloads"
FILES = {"taobao": "taobao_trade_paid.json", "pdd": "pdd_order_info.json",
         "douyin": "douyin_shop_order_detail.json", "kuaishou": "kuaishou_order_detail.json",
         "xiaohongshu": "xiaohongshu_order_detail.json", "miniprogram": "miniprogram_order.json"}
STATUS = {"TRADE_NO_CREATE_PAY": "pending_payment", "WAIT_BUYER_PAY": "pending_payment",
          "PAY_PENDING": "pending_payment", "WAIT_PRE_AUTH_CONFIRM": "pending_payment",
          "PAID_FORBID_CONSIGN": "paid_hold", "WAIT_SELLER_SEND_GOODS": "awaiting_shipment",
          "SELLER_CONSIGNED_PART": "partially_shipped", "WAIT_BUYER_CONFIRM_GOODS": "shipped",
          "TRADE_BUYER_SIGNED": "delivered", "TRADE_FINISHED": "completed", "TRADE_CLOSED": "cancelled",
          "TRADE_CLOSED_BY_TAOBAO": "cancelled"}


class DictResolver:
    """Region by the platform's district name from a small dictionary (bench only)."""

    def __init__(self) -> None:
        self.table = {"临平区": Region("浙江省", "杭州市", "临平区", "330113", 30.42, 120.30),
                      "浦东新区": Region("上海市", "上海市", "浦东新区", "310115", 31.22, 121.54)}

    def resolve(self, text: str, *, province: str | None = None, city: str | None = None,
                district: str | None = None) -> Region | None:
        return self.table.get(district or "")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def taobao_by_hand(t: dict[str, Any]) -> dict[str, Any]:
    """The library's Taobao mapping written as plain Python (the baseline)."""
    lines = []
    for o in t["orders"]["order"]:
        unit, qty = yuan(o.get("price")), int(o["num"])
        lines.append({"line_id": _text(o.get("oid_str")), "sku_id": coalesce(o.get("outer_sku_id"), o.get("outer_iid")),
                      "platform_sku_id": _text(o.get("sku_id")), "title": _text(o.get("title")), "qty": qty,
                      "unit_price": unit, "paid_amount": yuan(o.get("divide_order_fee")),
                      "amount": None if unit is None else unit * qty})
    refunds = [{"refund_id": _text(o.get("refund_id")), "line_id": _text(o.get("oid_str")),
                "sku_id": coalesce(o.get("outer_sku_id"), o.get("outer_iid")), "status": _text(o.get("refund_status"))}
               for o in t["orders"]["order"] if o.get("refund_id") not in (None, "")]
    return {
        "order_id": _text(t.get("tid_str")), "status": STATUS[t["status"]],
        "created_at": from_shanghai(t.get("created")), "updated_at": from_shanghai(t.get("modified")),
        "paid_at": from_shanghai(t.get("pay_time")), "shipped_at": from_shanghai(t.get("consign_time")),
        "promised_ship_at": from_shanghai(t.get("delivery_time")),
        "customer": {"id": _text(t.get("buyer_open_uid"))}, "buyer_phone": _text(t.get("receiver_mobile")),
        "receiver": {"name": _text(t.get("receiver_name")),
                     "phone": _text(coalesce(t.get("receiver_mobile"), t.get("receiver_phone"))),
                     "province": _text(t.get("receiver_state")),
                     "city": _text(coalesce(t.get("receiver_city"), t.get("receiver_district"))),
                     "district": _text(t.get("receiver_district")),
                     "address": "".join(str(t.get(k) or "") for k in ("receiver_state", "receiver_city",
                                                                        "receiver_district", "receiver_address")),
                     "cipher": {"oaid": _text(t.get("oaid"))}},
        "freight": yuan(t.get("post_fee")), "payment": {"paid_amount": yuan(t.get("payment"))},
        "lines": lines, "refunds": refunds, "channel": "taobao",
    }


def per_order(fn: Callable[[], Any], repeat: int) -> float:
    """Best of 5 runs of ``repeat`` calls, seconds per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()
    rules = parse_text((ROOT / "templates_library" / "sources_six_channels.op").read_text("utf-8"))
    mappings = compile_ruleset_mappings(rules)
    cleaning = compile_cleaning([d for d in rules.declarations if isinstance(d, CleaningDecl)], DictResolver())
    raw_taobao = (PAYLOADS / FILES["taobao"]).read_text("utf-8")
    payloads = {name: json.loads((PAYLOADS / f).read_text("utf-8"), parse_float=Decimal)
                for name, f in FILES.items()}
    taobao = payloads["taobao"]
    if taobao_by_hand(taobao) != mappings["taobao"].apply(taobao):
        raise SystemExit("the hand-written Taobao mapping and the compiled one disagree")

    print(f"{'':34}{'µs/order':>10}{'orders/s':>12}")
    total = 0.0
    for name, data in payloads.items():
        mapping = mappings[name]
        seconds = per_order(lambda m=mapping, d=data: m.apply(d), args.repeat)
        total += seconds
        print(f"map {name:30}{seconds * 1e6:10.1f}{1 / seconds:12,.0f}")
    mapped = mappings["taobao"].apply(taobao)
    clean = per_order(lambda: cleaning.apply(mapped), args.repeat)
    print(f"{'clean (library cleaning)':34}{clean * 1e6:10.1f}{1 / clean:12,.0f}")
    hand = per_order(lambda: taobao_by_hand(taobao), args.repeat)
    compiled = per_order(lambda: mappings["taobao"].apply(taobao), args.repeat)
    parse = per_order(lambda: json.loads(raw_taobao, parse_float=Decimal), args.repeat)
    print(f"{'map taobao, hand-written':34}{hand * 1e6:10.1f}{1 / hand:12,.0f}")
    print(f"{'json.loads of the taobao payload':34}{parse * 1e6:10.1f}{1 / parse:12,.0f}")
    average = total / len(payloads)
    print(f"map + clean, average of six platforms: {(average + clean) * 1e6:.1f} µs/order "
          f"({1 / (average + clean):,.0f} orders/s); goal < 100 µs")
    print(f"compiled Taobao mapping vs hand-written: {compiled / hand:.2f}x")


if __name__ == "__main__":
    main()
