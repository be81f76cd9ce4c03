"""The pipeline's price stage: every order quoted by the published promotion.

:func:`price_stage` is a stage (see :mod:`engine.orders.stages`): it runs inside the pipeline's
transaction for one order and never commits.

- Own channel (``miniprogram``): the published promotion's quote is the order's price. It is
  stored in ``order_prices`` (kind ``quote``: lines, discounts, gifts, freight, audit log,
  ruleset version); a line the shop sent without ``paid_amount`` pays its quoted payable; each
  gift becomes an order line at price 0 (:func:`engine.orders.priced_lines.gift_line`) in the order's document
  and in ``order_lines``, so the reserve stage reserves it and shipping ships it, and the store
  carries it into newer versions of the order.
- Marketplaces: the platform's amounts stand. Each line's paid share comes from the platform
  through the published mapping where the payload has it (Taobao ``divide_order_fee``, Douyin
  ``sku_order_list[].pay_amount``, Kuaishou, Xiaohongshu); where it has none (PDD) the goods
  paid are split over the lines by amount with the largest-remainder rule
  (:func:`engine.pricing.price_check.paid_shares`). The quote is kept as kind ``check``.
- The check, for every order: the goods the buyer was charged (``payment.paid_amount`` less
  ``freight``) against the goods payable the promotion allows (the quote's ``totals.goods``).
  Charged less by more than the tolerance the promotion declares (``price_check tolerance ¥5
  or 2%``) → a ``price_anomaly`` note with tag 价格异常, both figures and the difference.
- No published promotion → a ``price_skipped`` note; an order the engine cannot price (a line
  without a SKU or quantity) → ``price_unreadable`` with the field paths. Both pass.

Which promotion: the first promotion of the published rulesets, oldest ruleset first (the
rule the other areas use for a name declared twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dsl.errors import RuleError
from engine.logs import get_logger
from engine.orders.model import Order, OrderLine
from engine.orders.pipeline_model import OrderPrice
from engine.orders.priced_lines import gift_line, is_gift, pricing_input
from engine.orders.stages import OrderRef, StageNote
from engine.pricing.loading import RulesInvalid, plan_from_model
from engine.pricing.money import yuan
from engine.pricing.order_input import OrderInvalid, read_order
from engine.pricing.plan import PricingPlan
from engine.pricing.price_check import PriceCheck, charged_goods, check_price, paid_shares
from engine.pricing.quote import quote_priced_order
from engine.rulesets import published

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["OWN_CHANNELS", "PRICE_ANOMALY", "price_stage", "published_promotion"]

log = get_logger(__name__)

PRICE_ANOMALY = "价格异常"
OWN_CHANNELS = frozenset({"miniprogram"})

_PRICES = cast(Table, OrderPrice.__table__)
_LINES = cast(Table, OrderLine.__table__)
_ORDERS = cast(Table, Order.__table__)

# the stage's statements, built once (building a statement costs more than running it)
_SET_DOC = update(_ORDERS).where(_ORDERS.c.id == bindparam("b_pk")).values(doc=bindparam("b_doc"))
_SET_LINE_PAID = (update(_LINES).where(_LINES.c.order_pk == bindparam("b_pk"), _LINES.c.line_no == bindparam("b_no"))
                  .values(paid_amount=bindparam("b_paid")))
_ADD_LINES = insert(_LINES)
_READ_PRICE = select(_PRICES).where(_PRICES.c.order_pk == bindparam("b_pk"))


def published_promotion(session: Session) -> PricingPlan | None:
    """The plan of the published promotion (see the module), None when none is published.
    Plans are cached by the version's checksum (:mod:`engine.pricing.loading`)."""
    for ref in published.latest_versions(session):
        try:
            model = published.model_of(session, ref)
        except RuleError:
            log.warning("published version does not load", ruleset=ref.name, version=ref.version)
            continue
        if not model.promotions:
            continue
        name = model.promotions[0].name
        try:
            return plan_from_model(model, name=ref.name, fmt=ref.format, version=ref.version,
                                   checksum=ref.checksum, promotion=name)
        except RulesInvalid as exc:
            log.warning("published promotion cannot price", ruleset=ref.name, version=ref.version,
                        error=exc.message)
    return None


def _ruleset(plan: PricingPlan) -> tuple[str, int | None]:
    return plan.ruleset.name, plan.ruleset.version


def price_stage(session: Session, services: Services, order: OrderRef, now: datetime) -> list[StageNote]:
    """Price ``order`` (see the module); the notes go on its timeline."""
    plan = published_promotion(session)
    if plan is None:
        return [StageNote("price_skipped", {"message": "没有已发布的促销，未核价"})]
    name, version = _ruleset(plan)
    doc = order.doc
    priced_input, positions = pricing_input(doc)
    try:
        checked = read_order(priced_input)
    except OrderInvalid as exc:
        return [StageNote("price_unreadable", {"message": f"订单无法按促销 {plan.title} 核价", "problems": exc.details},
                          ruleset=name, ruleset_version=version)]
    quote = quote_priced_order(plan, checked)
    own = order.channel in OWN_CHANNELS
    lines = [dict(x) if isinstance(x, Mapping) else x for x in doc.get("lines") or ()]
    charged = charged_goods(doc)
    _paid_shares(lines, positions, quote, charged, own)
    if own:
        present = {ln.get("line_id") for ln in lines if isinstance(ln, Mapping) and is_gift(ln)}
        for gift in quote["gifts"]:
            added = gift_line(gift["sku_id"], gift["qty"], gift["rule"])
            if added["line_id"] not in present:
                lines.append(added)
    _write_lines(session, order, doc, lines)
    check = check_price(charged, quote["totals"]["goods"], plan.tolerance) if charged is not None else None
    _store_price(session, order, plan, quote, "quote" if own else "check", check, now)
    return _notes(plan, quote, own, check)


def _paid_shares(lines: list[Any], positions: list[int], quote: Mapping[str, Any], charged: int | None,
                 own: bool) -> None:
    """Lines keep the paid amounts their platform (or the own shop) gave. A line without one:
    on the own channel it pays its quoted payable; on a marketplace (PDD) the goods charged,
    less what the other lines say they paid, are split over such lines by amount (largest
    remainder)."""
    missing = [(pos, q) for pos, q in zip(positions, quote["lines"]) if type(lines[pos].get("paid_amount")) is not int]
    if not missing:
        return
    if own:
        for pos, quoted in missing:
            lines[pos]["paid_amount"] = quoted["payable"]
        return
    if charged is None:
        return
    given = sum(lines[p]["paid_amount"] for p in positions if type(lines[p].get("paid_amount")) is int)
    left = charged - given
    if left < 0:
        return  # the platform's own figures already exceed what it charged: nothing honest to split
    for (pos, _), share in zip(missing, paid_shares([int(q["original"]) for _, q in missing], left)):
        lines[pos]["paid_amount"] = share


def _write_lines(session: Session, order: OrderRef, doc: Mapping[str, Any], lines: list[Any]) -> None:
    """The order's document and ``order_lines`` with the lines as priced (paid shares, gifts)."""
    before = list(doc.get("lines") or ())
    if lines == before:
        return
    conn = session.connection()
    conn.execute(_SET_DOC, {"b_pk": order.pk, "b_doc": {**doc, "lines": lines}})
    # the store writes line ``line_no`` from the document's line at that position
    stored = {no: ln.get("paid_amount") for no, ln in enumerate(before) if isinstance(ln, Mapping)}
    added = []
    changed = []
    for no, line in enumerate(lines):
        if not isinstance(line, Mapping):
            continue
        if no >= len(before):
            added.append({"order_pk": order.pk, "line_no": no, "line_id": _text(line.get("line_id")),
                          "sku_id": _text(line.get("sku_id")), "platform_sku_id": _text(line.get("platform_sku_id")),
                          "title": _text(line.get("title")), "qty": int(line.get("qty") or 0),
                          "unit_price": line.get("unit_price"), "amount": line.get("amount"),
                          "paid_amount": line.get("paid_amount")})
        elif stored.get(no) != line.get("paid_amount"):
            changed.append({"b_pk": order.pk, "b_no": no, "b_paid": line.get("paid_amount")})
    if changed:
        conn.execute(_SET_LINE_PAID, changed)
    if added:
        conn.execute(_ADD_LINES, added)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _store_price(session: Session, order: OrderRef, plan: PricingPlan, quote: dict[str, Any], kind: str,
                 check: PriceCheck | None, now: datetime) -> None:
    """One ``order_prices`` row per order: the latest price decided (a re-run replaces it)."""
    name, version = _ruleset(plan)
    conn = session.connection()
    conn.execute(_upsert_price(conn.dialect.name), {
        "order_pk": order.pk, "revision": order.revision, "kind": kind, "quote": quote,
        "quoted_payable": quote["totals"]["payable"],
        "platform_payable": check.charged + _freight(order.doc) if check is not None else None,
        "difference": check.difference if check is not None else 0,
        "tolerance": check.tolerance if check is not None else None,
        "ruleset": name, "ruleset_version": version, "priced_at": now})


_upserts: dict[str, Any] = {}


def _upsert_price(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (order_pk) DO UPDATE``: one row per order, a re-run replaces it."""
    found = _upserts.get(dialect)
    if found is None:
        stmt = pg_insert(_PRICES) if dialect == "postgresql" else sqlite_insert(_PRICES)
        found = _upserts[dialect] = stmt.on_conflict_do_update(
            index_elements=["order_pk"],
            set_={c.name: stmt.excluded[c.name] for c in _PRICES.columns if c.name != "order_pk"})
    return found


def _freight(doc: Mapping[str, Any]) -> int:
    freight = doc.get("freight")
    return freight if type(freight) is int else 0


def _gift_text(gifts: list[dict[str, Any]]) -> str:
    return "，赠品 " + "、".join(f"{g['sku_id']}×{g['qty']}" for g in gifts) if gifts else ""


def _notes(plan: PricingPlan, quote: dict[str, Any], own: bool, check: PriceCheck | None) -> list[StageNote]:
    name, version = _ruleset(plan)
    totals = quote["totals"]
    figures = {"promotion": plan.promotion, "original": totals["original"], "discount": totals["discount"],
               "goods": totals["goods"], "freight": totals["freight"], "payable": totals["payable"],
               "gifts": quote["gifts"]}
    if own:
        message = (f"按促销 {plan.title} 定价：商品应付 {yuan(totals['goods'])}（原价 {yuan(totals['original'])}，"
                   f"优惠 {yuan(totals['discount'])}），运费 {yuan(totals['freight'])}{_gift_text(quote['gifts'])}")
        notes = [StageNote("priced", {**figures, "message": message}, ruleset=name, ruleset_version=version)]
    else:
        message = (f"按促销 {plan.title} 核价：规则允许的商品最低应付 {yuan(totals['goods'])}"
                   + (f"，平台实收商品 {yuan(check.charged)}" if check is not None else "，平台未给实收金额"))
        notes = [StageNote("price_checked", {**figures, "message": message}, ruleset=name, ruleset_version=version)]
    if check is None:
        return notes
    detail = {"charged": check.charged, "allowed": check.allowed, "difference": check.difference,
              "tolerance": check.tolerance, "tolerance_declared": check.declared}
    notes[0].detail.update(detail)
    if check.anomaly:
        who = "小程序" if own else "平台"
        notes.append(StageNote("price_anomaly", {
            **detail, "promotion": plan.promotion,
            "message": (f"{who}实收商品 {yuan(check.charged)}，低于促销 {plan.title} 允许的最低 {yuan(check.allowed)}，"
                        f"少收 {yuan(check.difference)}（容差 {yuan(check.tolerance)}）")},
            ruleset=name, ruleset_version=version, tags=(PRICE_ANOMALY,)))
    return notes


def price_section(session: Session, order_pk: int) -> dict[str, Any] | None:
    """The ``price`` section of ``GET /orders/{id}``: the price the stage decided (None before
    it ran): kind (``quote`` own channel, ``check`` marketplace), the quote body (lines,
    discounts, gifts, freight, audit log, ruleset), the figures of the check in fen and
    whether it is a price anomaly."""
    row = session.connection().execute(_READ_PRICE, {"b_pk": order_pk}).first()
    if row is None:
        return None
    anomaly = row.tolerance is not None and row.difference > row.tolerance
    return {"kind": row.kind, "revision": row.revision,
            "ruleset": {"name": row.ruleset, "version": row.ruleset_version},
            "quoted_payable": row.quoted_payable, "platform_payable": row.platform_payable,
            "difference": row.difference, "tolerance": row.tolerance, "anomaly": anomaly,
            "priced_at": row.priced_at.isoformat(), "quote": row.quote}
