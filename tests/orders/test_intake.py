"""Intake over the published ``sources_six_channels`` rules: each platform's sample payload is
mapped, cleaned and stored; the same payload again changes nothing; a newer platform version
updates and an older one does not; a payload that does not fit is parked with its path and
mapping line and taken in by a retry once the mapping is fixed; a test order is dropped with
its rule; a page is one transaction and one log line, printed as one console line per order."""

from __future__ import annotations

import copy
import io
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.orders.console import attach_console
from engine.orders.intake import (
    intake_platform_order,
    intake_platform_orders,
    retry_parked,
)
from engine.orders.model import Order, OrderEvent, ParkedPayload

PAYLOADS = Path(__file__).with_name("payloads")
SAMPLES = {"douyin": "douyin_shop_order_detail.json", "taobao": "taobao_trade_paid.json",
           "pdd": "pdd_order_info.json", "kuaishou": "kuaishou_order_detail.json",
           "xiaohongshu": "xiaohongshu_order_detail.json", "miniprogram": "miniprogram_order.json"}


def sample(source: str) -> dict:
    return json.loads((PAYLOADS / SAMPLES[source]).read_text(encoding="utf-8"))


def publish(services, name: str = "sources_six_channels", content: str | None = None) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        if content is None:
            import_template(s, name, actor="admin", now=services.clock.now())
        else:
            rulesets.create_ruleset(s, name, content, fmt="dsl", actor="admin", now=services.clock.now())
        rulesets.publish(s, name, actor="admin", now=services.clock.now(), note="test")


@pytest.fixture
def published(services):
    publish(services)
    return services


def _count(services, table) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(table))


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_each_platform_sample_is_mapped_cleaned_and_stored_once(published, source) -> None:
    services = published
    payload = sample(source)
    first = intake_platform_order(services, source=source, payload=payload, via="pull")
    assert first.outcome == "created", first.message
    assert first.channel == source
    again = intake_platform_order(services, source=source, payload=copy.deepcopy(payload), via="push")
    assert (again.outcome, again.order_pk) == ("unchanged", first.order_pk)
    with services.db.session() as s:
        row = s.get(Order, first.order_pk)
        assert (row.source, row.via, row.mapping, row.ruleset, row.ruleset_version) == (
            source, "pull", source, "sources_six_channels", 1)
        assert row.total > 0 and row.doc["lines"] and all(isinstance(ln["qty"], int) for ln in row.doc["lines"])
        assert s.scalar(select(func.count()).select_from(OrderEvent)) == 1


def test_douyin_versions_newer_updates_older_and_equal_change_nothing(published) -> None:
    services = published
    payload = sample("douyin")
    created = intake_platform_order(services, source="douyin", payload=payload, via="pull")
    with services.db.session() as s:
        row = s.get(Order, created.order_pk)
        assert (row.status, row.total, row.phone_tail) == ("awaiting_shipment", 31700, None)
        assert row.doc["receiver"]["cipher"]["phone"].startswith("$4Hc9$")
    cancelled = {**payload, "order_status": 4, "update_time": payload["update_time"] + 600}
    updated = intake_platform_order(services, source="douyin", payload=cancelled, via="push")
    assert (updated.outcome, updated.revision) == ("updated", 2)
    older = {**payload, "order_status": 3, "update_time": payload["update_time"] + 300}
    assert intake_platform_order(services, source="douyin", payload=older, via="pull").outcome == "stale"
    with services.db.session() as s:
        row = s.get(Order, created.order_pk)
        assert (row.status, row.revision) == ("cancelled", 2)
        events = s.scalars(select(OrderEvent).order_by(OrderEvent.id)).all()
        assert [e.kind for e in events] == ["created", "updated"]
        assert {"path": "status", "from": "awaiting_shipment", "to": "cancelled"} in events[1].changes
        assert (events[1].actor, events[1].ruleset, events[1].ruleset_version) == (
            "push:douyin", "sources_six_channels", 1)


def test_a_payload_that_does_not_fit_is_parked_with_path_and_line_then_retried(published) -> None:
    services = published
    bad = sample("taobao")
    bad["orders"]["order"][0]["price"] = "abc"
    parked = intake_platform_order(services, source="taobao", payload=bad, via="pull")
    assert parked.outcome == "parked"
    with services.db.session() as s:
        row = s.get(ParkedPayload, parked.parked_id)
        assert row.error_path == "$.orders.order[0].price"
        assert row.mapping == "taobao" and row.error_line and row.error_line > 0
        assert '"abc" is not a yuan amount' in row.error
        assert row.payload == bad
    assert _count(services, Order) == 0
    again = retry_parked(services, parked.parked_id)  # the same mapping: parked again, attempt counted
    assert (again.outcome, again.parked_id) == ("parked", parked.parked_id)
    with services.db.session() as s:
        assert s.get(ParkedPayload, parked.parked_id).attempts == 2


def test_a_payload_parked_before_its_mapping_was_published_is_taken_in_by_a_retry(services) -> None:
    parked = intake_platform_order(services, source="douyin", payload=sample("douyin"), via="push")
    assert parked.outcome == "parked"
    publish(services)
    taken = retry_parked(services, parked.parked_id)
    assert taken.outcome == "created"
    with services.db.session() as s:
        row = s.get(ParkedPayload, parked.parked_id)
        assert (row.status, row.order_pk) == ("resolved", taken.order_pk)
        assert s.get(Order, taken.order_pk).via == "retry"


def test_a_test_order_is_dropped_with_its_rule_and_kept(published) -> None:
    services = published
    payload = sample("miniprogram")
    payload_test = copy.deepcopy(payload)
    _set_receiver_name(payload_test, "测试")
    outcome = intake_platform_order(services, source="miniprogram", payload=payload_test, via="pull")
    assert outcome.outcome == "dropped"
    assert outcome.rule == 'receiver.name in ["测试", "测试单", "test"]'
    with services.db.session() as s:
        row = s.get(Order, outcome.order_pk)
        assert row.dropped_rule == outcome.rule and row.dropped_by.startswith("标准化:")


def _set_receiver_name(payload: dict, name: str) -> None:
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("name", "receiverName", "receiver_name") and isinstance(value, str):
                    node[key] = name
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload.get("receiver") or payload.get("address") or payload)


def test_a_page_is_stored_in_one_go_logged_once_and_printed_per_order(published, log_stream) -> None:
    services = published
    base = sample("douyin")
    page = []
    for i in range(3):
        p = copy.deepcopy(base)
        p["order_id"] = f"69201234567890{i:05d}"
        page.append(p)
    page.append({"order_id": "broken"})
    out = io.StringIO()
    handler = attach_console(out)
    try:
        outcomes = intake_platform_orders(services, source="douyin", payloads=page, via="pull")
    finally:
        logging.getLogger("engine.orders").removeHandler(handler)
    assert [o.outcome for o in outcomes] == ["created", "created", "created", "parked"]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("映射失败已挂起 抖音")
    assert lines[1:] == [f"新订单 抖音 6920…{i:04d} ¥317.00" + lines[1].split("¥317.00")[1] for i in range(3)]
    events = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    pages = [e for e in events if e["event"] == "orders_intake"]
    assert len(pages) == 1 and pages[0]["count"] == 3


class _OneDistrict:
    """A resolver that knows one district (the seam the region data set plugs into)."""

    def resolve(self, text, *, province=None, city=None, district=None):
        from engine.orders.ports import Region

        if "璧山" in (text or "") + (district or ""):
            return Region("重庆市", "重庆市", "璧山区", "500120", 29.592, 106.227)
        return None


def test_the_cleaning_uses_the_region_resolver_handed_in_through_services(published) -> None:
    from engine.orders.published import RESOLVER_EXTRA

    services = published
    services.extras[RESOLVER_EXTRA] = _OneDistrict()
    outcome = intake_platform_order(services, source="douyin", payload=sample("douyin"), via="pull")
    with services.db.session() as s:
        row = s.get(Order, outcome.order_pk)
        assert (row.province, row.city, row.district, row.adcode) == ("重庆市", "重庆市", "璧山区", "500120")
        assert (row.doc["receiver"]["lat"], row.doc["receiver"]["lng"]) == (29.592, 106.227)
