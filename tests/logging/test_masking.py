"""Phones and street addresses never reach the logs in clear: the masking functions, and the
JSON lines the configured handler writes while an order is being handled."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from engine.logs import get_logger
from engine.masking import mask_address, mask_data, mask_phone, mask_text

PHONE = "13812345678"
ADDRESS = "浙江省杭州市西湖区文三路90号"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("13812340000", "138****0000"),
        ("+86 138-1234-5678", "138****5678"),
        ("电话19912345678，请联系", "电话199****5678，请联系"),
        ("订单 202611110001234567", "订单 202611110001234567"),  # a long order number is not a phone
        ("12812345678", "12812345678"),  # not a mainland mobile prefix
    ],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (ADDRESS, "浙江省杭州市西湖区****"),
        ("上海市浦东新区世纪大道100号", "上海市浦东新区****"),
        ("广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市青秀区****"),
        ("浙江省杭州市西湖区", "浙江省杭州市西湖区"),
        ("文三路90号", "文三****"),
    ],
)
def test_mask_address(raw: str, masked: str) -> None:
    assert mask_address(raw) == masked


def test_mask_text_finds_phones_and_addresses_inside_sentences() -> None:
    assert mask_text(f"收货人张三 {PHONE} 地址 {ADDRESS}，尽快发货") == "收货人张三 138****5678 地址 浙江省杭州市西湖区****，尽快发货"


def test_mask_data_masks_sensitive_keys_and_free_text() -> None:
    order = {
        "order_id": "DY20261111001",
        "post_tel": int(PHONE),
        "buyer_phone": PHONE,
        "receiver": {"name": "张三", "phone": "0571-88886666", "address": ADDRESS},
        "post_addr": {"province": {"name": "浙江省"}, "detail": "文三路90号"},
        "remark": f"改发 {ADDRESS}",
        "lines": [{"qty": 2, "amount": 19900}],
    }
    assert mask_data(order) == {
        "order_id": "DY20261111001",
        "post_tel": "138****5678",
        "buyer_phone": "138****5678",
        "receiver": {"name": "张三", "phone": "****", "address": "浙江省杭州市西湖区****"},
        "post_addr": {"province": {"name": "浙江省"}, "detail": "文三****"},
        "remark": "改发 浙江省杭州市西湖区****",
        "lines": [{"qty": 2, "amount": 19900}],
    }


def _handle_order(order: dict) -> None:
    """What order handling logs: bound context, the payload, a library's message, an error."""
    log = get_logger("engine.orders")
    structlog.contextvars.bind_contextvars(order_id=order["order_id"], buyer_phone=order["buyer_phone"])
    log.info("order_received", order=order)
    log.info(f"deliver to {order['receiver']['address']}, call {order['receiver']['phone']}")
    logging.getLogger("connectors.douyin").warning("push for %s to %s", order["buyer_phone"], order["receiver"]["address"])
    try:
        raise ValueError(f"courier refused {order['receiver']['phone']} at {order['receiver']['address']}")
    except ValueError:
        log.exception("waybill_failed")


def test_log_lines_while_handling_an_order_hide_phone_and_address(log_stream: io.StringIO) -> None:
    order = {
        "order_id": "DY20261111001",
        "buyer_phone": PHONE,
        "post_tel": int(PHONE),
        "receiver": {"name": "张三", "phone": PHONE, "address": ADDRESS},
    }
    _handle_order(order)
    out = log_stream.getvalue()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["event"].split(" ")[0] for r in records] == ["order_received", "deliver", "push", "waybill_failed"]
    assert PHONE not in out
    assert "文三路" not in out and "90号" not in out
    # Masked, not dropped: the useful part is still there.
    assert "138****5678" in out and "浙江省杭州市西湖区****" in out
    assert records[0]["order"]["receiver"] == {"name": "张三", "phone": "138****5678", "address": "浙江省杭州市西湖区****"}
    assert records[0]["order_id"] == "DY20261111001" and records[0]["buyer_phone"] == "138****5678"
    assert records[2]["logger"] == "connectors.douyin"
    assert records[2]["event"] == "push for 138****5678 to 浙江省杭州市西湖区****"
    assert "ValueError: courier refused 138****5678 at 浙江省杭州市西湖区****" in records[3]["exception"]
