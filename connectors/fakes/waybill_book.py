"""What every fake e-waybill counterpart shares: a book of issued numbers keyed by the
caller's request (the same order and package again → the same number, as Kdniao's
``OrderCode``, Doudian's ``pack_id``, Kuaishou's ``packageCode`` and Cainiao's package id
promise), a per-carrier number format, a balance (网点/账户余量) that can run out, and the
label HTML Kdniao returns as ``PrintTemplate``.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping
from typing import Any

PREFIX = {"SF": "SF14", "ZTO": "7531", "YTO": "YT88", "YD": "4318", "YUNDA": "4318", "STO": "7730", "JTSD": "JT58",
          "JTSDKD": "JT58", "JD": "JDVA", "EMS": "1180", "shunfeng": "SF14", "zhongtong": "7531", "zto": "7531",
          "yuantong": "YT88", "yto": "YT88", "yunda": "4318", "shentong": "7730", "sto": "7730", "jtexpress": "JT58"}


class WaybillBook:
    """Issued numbers by request key; ``balance`` None is unlimited, 0 refuses new numbers."""

    def __init__(self, seed: int = 1, balance: int | None = None) -> None:
        self.issued: dict[tuple[str, ...], str] = {}
        self.balance = balance
        self._serial = itertools.count(seed * 1_000_000 + 1)

    def find(self, key: tuple[str, ...]) -> str | None:
        return self.issued.get(key)

    def can_issue(self) -> bool:
        return self.balance is None or self.balance > 0

    def issue(self, key: tuple[str, ...], carrier: str) -> str:
        """A new number for ``key`` (call :meth:`find` first); spends one of the balance."""
        number = f"{PREFIX.get(carrier, 'WB00')}{next(self._serial):010d}"
        self.issued[key] = number
        if self.balance is not None:
            self.balance -= 1
        return number


def label_html(number: str, carrier: str, receiver: Mapping[str, Any], sender: Mapping[str, Any],
               goods: list[str]) -> str:
    """A 100×180 mm label as an HTML fragment (what Kdniao's ``PrintTemplate`` carries)."""
    e = lambda v: html.escape(str(v or ""))  # noqa: E731
    to = f"{e(receiver.get('ProvinceName'))}{e(receiver.get('CityName'))}{e(receiver.get('ExpAreaName'))}" \
         f"{e(receiver.get('Address'))}"
    frm = f"{e(sender.get('ProvinceName'))}{e(sender.get('CityName'))}{e(sender.get('Address'))}"
    return (f'<div class="kdn-label" style="width:100mm;height:180mm;border:1px solid #000;padding:4mm;'
            f'font-family:sans-serif"><div style="font-size:20px;font-weight:bold">{e(carrier)} 电子面单</div>'
            f'<div style="font:bold 26px monospace;letter-spacing:2px">{e(number)}</div>'
            f'<div>收：{e(receiver.get("Name"))} {e(receiver.get("Mobile"))}<br>{to}</div>'
            f'<div>寄：{e(sender.get("Name"))} {e(sender.get("Mobile"))}<br>{frm}</div>'
            f'<div>品名：{e("、".join(goods))}</div></div>')
