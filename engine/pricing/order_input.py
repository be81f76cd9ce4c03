"""Reading a normalized order for pricing: what must be there, in which types, with field paths.

This module owns the checks the pricing engine needs before it can trust an order (see "The
normalized order" in the architecture): a non-empty ``lines`` list, each line with a unique
``line_id``, a ``sku_id``, a positive integer ``qty`` and integer-fen money (``amount``, or
``unit_price`` from which ``amount = qty × unit_price``); integer-fen ``red_packet`` and
``payment.paid_amount`` when present; ``tags`` as lists of text. Every problem is reported
(not only the first) with its JSON pointer, e.g. ``/lines/0/qty``. It does no pricing.

A line's ``amount`` is its original amount when given (platforms may already have applied an
item-level price change); otherwise ``qty × unit_price``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import json_pointer
from engine.values import MAX_QTY, MONEY_MAX_FEN, int_problem, money_problem

__all__ = ["LINE_DEFAULTS", "OrderInvalid", "PricingOrder", "read_order"]

# Every line field a rule filter may read; absent ones read as these (so ``category != "礼品卡"``
# holds for a line without a category, and ``"秒杀" in tags`` is simply false).
LINE_DEFAULTS: dict[str, Any] = {"line_id": None, "sku_id": None, "title": None, "category": None,
                                 "tags": (), "qty": None, "unit_price": None, "amount": None}


class OrderInvalid(ValueError):
    """The order cannot be priced. ``details`` is ``[{"path": "/lines/0/qty", "message"}]``."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        self.details = details
        summary = "; ".join(f"{d['path'] or '/'}: {d['message']}" for d in details[:5])
        more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
        super().__init__(f"order is invalid: {summary}{more}")

    @property
    def message(self) -> str:
        return str(self)


class PricingOrder:
    """An order the engine can price: the raw order (read by conditions) and its lines, in
    order, as parallel tuples. (A plain slotted class: built once per quote, it must be cheap.)"""

    __slots__ = ("amounts", "line_ids", "lines", "qtys", "raw", "sku_ids", "tags")

    def __init__(self, raw: dict[str, Any], lines: tuple[dict[str, Any], ...],
                 line_ids: tuple[str, ...], sku_ids: tuple[str, ...], qtys: tuple[int, ...],
                 amounts: tuple[int, ...], tags: tuple[Sequence[str], ...]) -> None:
        self.raw = raw
        self.lines = lines  # the order's lines, with LINE_DEFAULTS filled in where missing
        self.line_ids = line_ids
        self.sku_ids = sku_ids
        self.qtys = qtys
        self.amounts = amounts
        self.tags = tags


_money_problem = money_problem  # the one money rule (engine.values): integer fen, 0..10^12


_LINE_KEYS = frozenset(LINE_DEFAULTS)


def read_order(order: Any, prefix: tuple[str | int, ...] = ()) -> PricingOrder:
    """Check ``order`` and return it as a :class:`PricingOrder`; raise :class:`OrderInvalid`
    listing every problem. ``prefix`` is prepended to the field paths (``("order",)`` in the
    API, where the order sits under ``/order``)."""
    lines = order.get("lines") if type(order) is dict else None
    if type(lines) is not list or not lines:
        raise OrderInvalid(_order_problems(order, prefix))
    filled: list[dict[str, Any]] = []
    ids: list[str] = []
    skus: list[str] = []
    qtys: list[int] = []
    amounts: list[int] = []
    tags: list[Any] = []
    seen: set[str] = set()
    for line in lines:
        # the common case, checked in one expression; anything unusual goes to the slow path
        if type(line) is not dict:
            raise OrderInvalid(_order_problems(order, prefix))
        line_id = line.get("line_id")
        sku = line.get("sku_id")
        qty = line.get("qty")
        amount = line.get("amount")
        unit_price = line.get("unit_price")
        line_tags = line.get("tags")
        category = line.get("category")
        if not (type(line_id) is str and line_id and line_id not in seen
                and type(sku) is str and sku and type(qty) is int and 0 < qty <= MAX_QTY
                and (unit_price is None or (type(unit_price) is int and 0 <= unit_price <= MONEY_MAX_FEN))
                and ((type(amount) is int and 0 <= amount <= MONEY_MAX_FEN)
                     or (amount is None and unit_price is not None and qty * unit_price <= MONEY_MAX_FEN))
                and (line_tags is None or (type(line_tags) is list
                                           and (not line_tags or all(type(t) is str for t in line_tags))))
                and (category is None or type(category) is str)):
            raise OrderInvalid(_order_problems(order, prefix))
        seen.add(line_id)
        if amount is not None and line_tags is not None and line.keys() >= _LINE_KEYS:
            filled.append(line)  # every field a filter may read is there: use the line as is
        else:
            if amount is None:
                amount = qty * unit_price  # type: ignore[operator]  # checked just above
            if line_tags is None:
                line_tags = ()
            full = LINE_DEFAULTS.copy()
            full.update(line)
            full["amount"] = amount
            full["tags"] = line_tags
            filled.append(full)
        ids.append(line_id)
        skus.append(sku)
        qtys.append(qty)
        amounts.append(amount)  # an int once checked
        tags.append(line_tags)
    red_packet = order.get("red_packet")
    customer = order.get("customer")
    receiver = order.get("receiver")
    payment = order.get("payment")
    order_tags = order.get("tags")
    if not ((red_packet is None or (type(red_packet) is int and 0 <= red_packet <= MONEY_MAX_FEN))
            and (customer is None or type(customer) is dict)
            and (receiver is None or (type(receiver) is dict and (
                (province := receiver.get("province")) is None or type(province) is str)))
            and (payment is None or (type(payment) is dict and (
                payment.get("paid_amount") is None or _money_problem(payment["paid_amount"]) is None)))
            and (order_tags is None or (type(order_tags) is list
                                        and all(type(t) is str for t in order_tags)))):
        raise OrderInvalid(_order_problems(order, prefix))
    return PricingOrder(order, tuple(filled), tuple(ids), tuple(skus), tuple(qtys),
                        tuple(amounts), tuple(tags))


def _order_problems(order: Any, prefix: tuple[str | int, ...]) -> list[dict[str, str]]:
    """Every problem of an order that failed the fast check, with its field path."""
    problems: list[dict[str, str]] = []

    def bad(path: tuple[str | int, ...], message: str) -> None:
        problems.append({"path": json_pointer(list(prefix + path)), "message": message})

    if not isinstance(order, dict):
        bad((), f"the order must be a JSON object, got {type(order).__name__}")
        return problems
    lines = order.get("lines")
    if not isinstance(lines, list) or not lines:
        bad(("lines",), "must be a non-empty list of order lines" if lines is None or isinstance(lines, list)
            else f"must be a list of order lines, got {type(lines).__name__}")
        return problems
    seen: dict[Any, int] = {}
    for n, line in enumerate(lines):
        if type(line) is not dict:
            bad(("lines", n), f"must be an object, got {type(line).__name__}")
            continue
        line_id = line.get("line_id")
        if type(line_id) is not str or not line_id:
            bad(("lines", n, "line_id"), "is required (text)" if line_id is None
                else f"must be non-empty text, got {line_id!r}")
        elif line_id in seen:
            bad(("lines", n, "line_id"), f"duplicate line_id {line_id!r} (also line {seen[line_id]})")
        else:
            seen[line_id] = n
        sku = line.get("sku_id")
        if type(sku) is not str or not sku:
            bad(("lines", n, "sku_id"), "is required (text)" if sku is None
                else f"must be non-empty text, got {sku!r}")
        qty = line.get("qty")
        if type(qty) is not int or qty < 1:
            bad(("lines", n, "qty"), "is required" if qty is None
                else f"must be a positive whole number, got {qty!r}")
        elif problem := int_problem(qty, 1, MAX_QTY):
            bad(("lines", n, "qty"), problem)
        amount = line.get("amount")
        unit_price = line.get("unit_price")
        if unit_price is not None and (problem := _money_problem(unit_price)):
            bad(("lines", n, "unit_price"), problem)
        elif amount is None and type(unit_price) is int and type(qty) is int and qty * unit_price > MONEY_MAX_FEN:
            bad(("lines", n, "unit_price"), f"qty × unit_price must be at most {MONEY_MAX_FEN} fen")
        if amount is not None:
            if problem := _money_problem(amount):
                bad(("lines", n, "amount"), problem)
        elif unit_price is None:
            bad(("lines", n, "amount"), "amount or unit_price is required (integer fen)")
        line_tags = line.get("tags")
        if line_tags is not None and (type(line_tags) is not list
                                      or any(type(t) is not str for t in line_tags)):
            bad(("lines", n, "tags"), "must be a list of text")
        category = line.get("category")
        if category is not None and type(category) is not str:
            bad(("lines", n, "category"), f"must be text, got {type(category).__name__}")
    red_packet = order.get("red_packet")
    if red_packet is not None and (problem := _money_problem(red_packet)):
        bad(("red_packet",), problem)
    for key in ("customer", "receiver", "payment"):
        value = order.get(key)
        if value is not None and type(value) is not dict:
            bad((key,), f"must be an object, got {type(value).__name__}")
    payment = order.get("payment")
    if type(payment) is dict and payment.get("paid_amount") is not None \
            and (problem := _money_problem(payment["paid_amount"])):
        bad(("payment", "paid_amount"), problem)
    receiver = order.get("receiver")
    if type(receiver) is dict and receiver.get("province") is not None \
            and type(receiver["province"]) is not str:
        bad(("receiver", "province"), "must be text")
    order_tags = order.get("tags")
    if order_tags is not None and (type(order_tags) is not list
                                   or any(type(t) is not str for t in order_tags)):
        bad(("tags",), "must be a list of text")
    if not problems:  # pragma: no cover - the fast check and this one must agree
        bad((), "the order could not be read")
    return problems
