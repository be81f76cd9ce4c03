"""Builders for pricing tests: a promotion from DSL text, orders and lines in fen, and readers
that pull one rule's per-line shares out of a quote body."""

from __future__ import annotations

from typing import Any

from dsl import parse_text
from engine.pricing import (
    PricingPlan,
    RulesetRef,
    checksum_of,
    prepare_plan,
    quote_order,
)


def plan_of(text: str, name: str = "test", version: int | None = 1) -> PricingPlan:
    """Prepare the only promotion in ``text`` (no cache, so every test sees its own plan)."""
    ruleset = parse_text(text, f"{name}.op")
    (promotion,) = ruleset.promotions
    return prepare_plan(promotion, RulesetRef(name, version, checksum_of(text)))


def promo(body: str) -> str:
    """Wrap tiers/gifts/freight in a promotion declaration."""
    return f"promotion 测试促销 {{\n{body}\n}}\n"


def line(line_id: str, amount: int, category: str = "连衣裙", qty: int = 1,
         tags: list[str] | None = None, sku: str | None = None) -> dict[str, Any]:
    """A line of ``qty`` items worth ``amount`` fen in total."""
    assert amount % qty == 0, "keep amount = qty × unit_price in tests"
    return {"line_id": line_id, "sku_id": sku or f"SKU-{line_id}", "title": "商品",
            "category": category, "tags": list(tags or []), "qty": qty,
            "unit_price": amount // qty, "amount": amount}


def order(*lines: dict[str, Any], level: str | None = None, red_packet: int | None = None,
          province: str | None = None, channel: str = "douyin") -> dict[str, Any]:
    out: dict[str, Any] = {"order_id": "T-1", "channel": channel, "lines": list(lines)}
    if level is not None:
        out["customer"] = {"id": "C-1", "level": level}
    if red_packet is not None:
        out["red_packet"] = red_packet
    if province is not None:
        out["receiver"] = {"name": "收件人", "province": province}
    return out


def quote(text: str, the_order: dict[str, Any]) -> dict[str, Any]:
    return quote_order(plan_of(text), the_order)


def shares(body: dict[str, Any], rule: str) -> dict[Any, int]:
    """``{line_id: fen}`` of one rule's discount, from the lines (zero shares omitted)."""
    out: dict[Any, int] = {}
    for ln in body["lines"]:
        for d in ln["discounts"]:
            if d["rule"] == rule:
                out[ln["line_id"]] = out.get(ln["line_id"], 0) + d["amount"]
    return out


def payables(body: dict[str, Any]) -> dict[Any, int]:
    return {ln["line_id"]: ln["payable"] for ln in body["lines"] if not ln["gift"]}


def rule_entries(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The log entry of every rule, by rule name."""
    return {e["rule"]: e for e in body["log"] if e["event"] == "rule"}


def applied_rules(body: dict[str, Any]) -> list[str]:
    return [e["rule"] for e in body["log"] if e["event"] == "rule" and e["status"] == "applied"]
