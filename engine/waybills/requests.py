"""Which counterpart issues an order's waybill, its code for the courier, and the request
built from a stored order. Pure: no I/O, nothing of Flask or SQLAlchemy.

- :func:`provider_for`: the own mini-program shop's receivers are plaintext, so 快递鸟
  (Kdniao, RequestType 1007) prints them; the five marketplaces encrypt theirs, so each
  order goes to its platform's own e-waybill service (淘宝/天猫 菜鸟 ``cainiao.waybill.ii.get``,
  拼多多 ``pdd.waybill.get``, 抖店 ``logistics.newCreateOrder``, 快手
  ``open.express.ebill.get``, 小红书 ``express.createEbillOrders``), which decrypts on its side.
  A person may still pick 快递鸟 for a marketplace order: Kdniao then gets the masked
  receiver and refuses it, and the desk shows its reason.
- :func:`carrier_code_for`: the code each counterpart takes for our courier. Taobao's
  Cainiao ``cp_code`` and Doudian's ``logistics_code`` are the same codes as their ship APIs
  (``engine/orders/data/carriers.json``); Kdniao ``ShipperCode``, PDD ``wp_code``, Kuaishou
  ``expressCompanyCode`` and XHS ``cpCode`` have their own tables below.
- :func:`build_request`: the :class:`~engine.waybills.ports.WaybillRequest` of an order
  document (receiver, ciphertexts, lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.orders.carriers import find_carrier
from engine.waybills.ports import Party, WaybillItem, WaybillRequest

__all__ = ["PROVIDERS", "PROVIDER_LABELS", "NoWaybillCode", "build_request", "carrier_code_for", "provider_for",
           "street_of"]

PROVIDERS = ("kdniao", "taobao", "pdd", "douyin", "kuaishou", "xiaohongshu")
PROVIDER_LABELS = {"kdniao": "快递鸟", "taobao": "菜鸟（淘宝/天猫）", "pdd": "拼多多电子面单", "douyin": "抖店电子面单",
                   "kuaishou": "快手电子面单", "xiaohongshu": "小红书电子面单"}
# our carrier code -> the counterpart's (Taobao and Doudian: the carriers table's own column)
OWN_TABLES: dict[str, dict[str, str]] = {
    "kdniao": {"SF": "SF", "ZTO": "ZTO", "YTO": "YTO", "YUNDA": "YD", "STO": "STO", "JT": "JTSD", "JD": "JD",
               "EMS": "EMS", "POST": "YZPY", "DBKD": "DBL"},
    "pdd": {"SF": "SF", "ZTO": "ZTO", "YTO": "YTO", "YUNDA": "YUNDA", "STO": "STO", "JT": "JTSDKD", "JD": "JD",
            "EMS": "EMS", "POST": "YZXB", "DBKD": "DBKD"},
    "kuaishou": {"SF": "SF", "ZTO": "ZTO", "YTO": "YTO", "YUNDA": "YUNDA", "STO": "STO", "JT": "JTSD", "JD": "JD",
                 "EMS": "EMS", "POST": "POSTB", "DBKD": "DBKD"},
    "xiaohongshu": {"SF": "shunfeng", "ZTO": "zto", "YTO": "yto", "YUNDA": "yunda", "STO": "sto", "JT": "jtexpress",
                    "JD": "jd", "EMS": "ems", "POST": "youzhengguonei", "DBKD": "debangkuaidi"},
}


class NoWaybillCode(LookupError):
    """The counterpart has no code for the courier."""


def provider_for(channel: str, choice: str = "auto") -> str:
    """The counterpart that issues a waybill for an order of ``channel`` (see the module
    docstring); ``choice`` ``kdniao`` sends any order to Kdniao."""
    if choice == "kdniao" or channel == "miniprogram":
        return "kdniao"
    if choice not in ("auto", channel):
        raise ValueError(f"waybill source {choice!r}: auto or kdniao")
    return channel


def carrier_code_for(provider: str, courier: str) -> str:
    """``provider``'s code for our courier (code, name or alias)."""
    carrier = find_carrier(courier)
    if provider in ("taobao", "douyin"):
        return str(carrier.code_for(provider))
    code = OWN_TABLES.get(provider, {}).get(carrier.code)
    if code is None:
        raise NoWaybillCode(f"{PROVIDER_LABELS.get(provider, provider)} 不支持 {carrier.name}")
    return code


def street_of(receiver: Mapping[str, Any]) -> str:
    """The street part of the stored address (the cleaning writes 省市区 in front of it)."""
    address = str(receiver.get("address") or "")
    for part in (receiver.get("province"), receiver.get("city"), receiver.get("district")):
        if part and address.startswith(str(part)):
            address = address[len(str(part)):]
    return address.strip()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def build_request(order_pk: int, doc: Mapping[str, Any], *, provider: str, courier: str,
                  sender: Party) -> WaybillRequest:
    """The request for the stored order ``doc`` (its receiver as stored: plaintext for the own
    shop, masked plus ciphertexts for a marketplace)."""
    receiver = doc.get("receiver") or {}
    cipher = {k: _text(v) for k, v in (receiver.get("cipher") or {}).items() if v}
    items = tuple(WaybillItem(sku_id=_text(ln.get("sku_id")), title=_text(ln.get("title") or ln.get("sku_id")),
                              qty=int(ln.get("qty") or 1))
                  for ln in doc.get("lines") or [] if ln.get("sku_id"))
    carrier = find_carrier(courier)
    return WaybillRequest(
        request_id=f"OP{order_pk}", channel=_text(doc.get("channel")), order_id=_text(doc.get("order_id")),
        courier=carrier.code, carrier_code=carrier_code_for(provider, courier), sender=sender,
        receiver=Party(name=_text(receiver.get("name")), phone=_text(receiver.get("phone")),
                       province=_text(receiver.get("province")), city=_text(receiver.get("city")),
                       district=_text(receiver.get("district")), address=street_of(receiver)),
        items=items, cipher=cipher)
