"""``GET /api/v1/instances``: the ticket list 我的待办 and the kanban read — open tickets of the
caller's role, overdue first, then by deadline, with the time left; filters by machine, state,
owner, overdue, order, channel and a search by order id or the phone's last four digits; pages
that never repeat a ticket; phones masked for roles that do not see them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.boards import world as w
from tests.conftest import auth


def _get(client: Any, token: str, **params: Any) -> Any:
    return client.get("/api/v1/instances", query_string=params, headers=auth(token))


def test_a_cs_sees_the_tickets_it_owns_overdue_first_with_the_time_left(client: Any, tokens: dict[str, str],
                                                                        world: w.World) -> None:
    answer = _get(client, tokens["cs"], owner="me", machine="aftersales")
    assert answer.status_code == 200, answer.json
    items = answer.json["items"]
    assert [i["id"] for i in items] == [world.tickets["A"], world.tickets["B"], world.tickets["C"]]
    assert [(i["state"], i["owner"], i["overdue"], i["seconds_left"]) for i in items] == [
        ("待审核", "cs", True, -6 * 3600), ("待审核", "cs", False, 4 * 3600), ("待审核", "cs", False, 14 * 3600)]
    assert items[0]["deadline_at"] == "2026-11-12T02:00:00+00:00"
    assert items[0]["allowed_actions"] == ["审核通过"]
    assert items[0]["data"]["consumer_phone"] == "138****5678"  # 客服 sees phones masked
    assert items[0]["channel"] is None and items[0]["order_id"] == "DY1000"
    assert answer.json["next_cursor"] is None


def test_the_warehouse_owns_the_ticket_waiting_for_quality_check(client: Any, tokens: dict[str, str],
                                                                 world: w.World) -> None:
    items = _get(client, tokens["warehouse"], owner="me", machine="aftersales").json["items"]
    assert [(i["id"], i["state"], i["seconds_left"], i["allowed_actions"]) for i in items] == [
        (world.tickets["Q"], "待质检", 38 * 3600, ["质检通过"])]
    assert items[0]["data"]["consumer_phone"] == "13812345678"  # 仓储 sees phones in full


@pytest.mark.parametrize("params,expected", [
    ({"overdue": "true"}, ["A"]),
    ({"overdue": "false"}, ["B", "C", "Q"]),
    ({"order_id": "DY2000"}, ["C"]),
    ({"q": "DY1001"}, ["B"]),
    ({"q": "6666"}, ["C"]),  # the last four digits of the buyer's phone on order DY2000
    ({"state": "待质检"}, ["Q"]),
    ({"owner": "仓储"}, ["Q"]),
])
def test_filters(client: Any, tokens: dict[str, str], world: w.World, params: dict[str, str],
                 expected: list[str]) -> None:
    items = _get(client, tokens["cs_lead"], machine="aftersales", **params).json["items"]
    assert [i["id"] for i in items] == [world.tickets[n] for n in expected]


def test_the_channel_filter_follows_the_orders_ticket(client: Any, tokens: dict[str, str], world: w.World) -> None:
    douyin = _get(client, tokens["admin"], channel="douyin").json["items"]
    assert {i["machine"] for i in douyin} == {"order_lifecycle"}
    assert sorted(i["order_id"] for i in douyin) == ["DY1000", "DY1001", "DY1002", "DY1003"]
    assert {i["channel"] for i in douyin} == {"douyin"}
    assert _get(client, tokens["admin"], channel="taobao").json["items"] == []


def test_pages_follow_the_cursor_without_repeating(client: Any, tokens: dict[str, str], world: w.World) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, "machine": "aftersales"} | ({"cursor": cursor} if cursor else {})
        page = _get(client, tokens["admin"], **params).json
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [world.tickets[n] for n in ("A", "B", "C", "Q")]


@pytest.mark.parametrize("params,field", [({"owner": "boss"}, "owner"), ({"cursor": "nonsense"}, "cursor"),
                                          ({"limit": 0}, "limit")])
def test_bad_filters_are_refused_with_the_field(client: Any, tokens: dict[str, str], world: w.World,
                                                params: dict[str, Any], field: str) -> None:
    answer = _get(client, tokens["cs"], **params)
    assert answer.status_code == 422
    assert field in str(answer.json["error"])


def test_without_a_token_nothing_is_listed(client: Any, world: w.World) -> None:
    assert client.get("/api/v1/instances").status_code == 401
