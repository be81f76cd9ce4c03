"""``GET /api/v1/risk/flags``: the flags the stage stored, filtered by rule, flag, hold, channel,
order and time, newest first, paged with a cursor; the key shown as each role may see it; bad
filters refused with the field named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import auth
from tests.risk.helpers import T0, order, place, publish

URL = "/api/v1/risk/flags"


@pytest.fixture
def flagged(services):
    """Two scalper holds (phones A and B) and one payment-switching flag (phone C), flagged at
    three different clock times."""
    publish(services, "sources_six_channels")
    publish(services, "risk_standard")
    services.clock.set(T0 + timedelta(hours=3))
    for phone, prefix, channel in (("13811110000", "A", "douyin"), ("13822220000", "B", "taobao")):
        for i in range(5):
            place(services, order(f"{prefix}{i}", at=T0 + timedelta(minutes=i), phone=phone, channel=channel,
                                  city=("杭州", "南京", "上海")[i % 3]))
        services.clock.advance(timedelta(minutes=1))
    for i, method in enumerate(("alipay", "wechat", "unionpay")):
        place(services, order(f"C{i}", at=T0 + timedelta(hours=i), phone="13833330000", method=method))
    return services


def _get(client, token, **params):
    return client.get(URL, query_string=params, headers=auth(token))


def test_flags_are_listed_newest_first_with_rule_version_and_evidence(client, tokens, flagged) -> None:
    body = _get(client, tokens["admin"]).get_json()
    items = body["items"]
    assert [(i["order_id"], i["rule"], i["flag"], i["held"]) for i in items] == [
        ("C2", "支付方式频繁切换", "支付方式切换", False),
        ("B4", "疑似黄牛", "疑似黄牛", True),
        ("A4", "疑似黄牛", "疑似黄牛", True)]
    a4 = items[2]
    assert (a4["channel"], a4["ruleset"], a4["ruleset_version"], a4["at"]) == (
        "douyin", "risk_standard", 1, "2026-11-11T05:00:00+00:00")
    assert a4["evidence"]["condition"] == ("count(orders by buyer_phone within 1h) >= 5 and "
                                           "distinct(receiver.city of orders by buyer_phone within 1h) >= 3")
    assert [(f["value"], f["key"]) for f in a4["evidence"]["figures"]] == [(5, "13811110000"), (3, "13811110000")]
    assert a4["evidence"]["figures"][0]["orders"] == [f"douyin/A{i}" for i in range(5)]
    assert body["next_cursor"] is None


def test_roles_that_do_not_see_phones_see_the_key_masked(client, tokens, flagged) -> None:
    for role in ("cs", "ops", "finance", "cs_lead"):
        items = _get(client, tokens[role], order_id="A4").get_json()["items"]
        assert [f["key"] for f in items[0]["evidence"]["figures"]] == ["138****0000", "138****0000"]
    shown = _get(client, tokens["warehouse"], order_id="A4").get_json()["items"]
    assert shown[0]["evidence"]["figures"][0]["key"] == "13811110000"


@pytest.mark.parametrize("params,expected", [
    ({"held": "true"}, ["B4", "A4"]),
    ({"held": "false"}, ["C2"]),
    ({"rule": "疑似黄牛"}, ["B4", "A4"]),
    ({"flag": "支付方式切换,疑似黄牛", "channel": "taobao"}, ["B4"]),
    ({"at_from": "2026-11-11T05:00:30+00:00"}, ["C2", "B4"]),
    ({"at_to": "2026-11-11T05:00:30+00:00"}, ["A4"]),
    ({"order_id": "C2"}, ["C2"]),
    ({"order_id": "nope"}, []),
])
def test_filters(client, tokens, flagged, params, expected) -> None:
    resp = _get(client, tokens["cs"], **params)
    assert resp.status_code == 200, resp.get_json()
    assert [i["order_id"] for i in resp.get_json()["items"]] == expected


def test_pages_follow_the_cursor_without_repeating(client, tokens, flagged) -> None:
    first = _get(client, tokens["ops"], limit=2).get_json()
    assert [i["order_id"] for i in first["items"]] == ["C2", "B4"]
    second = _get(client, tokens["ops"], limit=2, cursor=first["next_cursor"]).get_json()
    assert [i["order_id"] for i in second["items"]] == ["A4"] and second["next_cursor"] is None


@pytest.mark.parametrize("params,field", [
    ({"channel": "jd"}, "channel"),
    ({"limit": "0"}, "limit"),
    ({"held": "maybe"}, "held"),
    ({"at_from": "2026-11-12T00:00:00+00:00", "at_to": "2026-11-11T00:00:00+00:00"}, "at_to"),
    ({"at_from": "2026-11-11 10:00"}, "at_from"),
])
def test_bad_filters_are_refused_with_the_field(client, tokens, flagged, params, field) -> None:
    resp = _get(client, tokens["cs"], **params)
    assert resp.status_code == 422
    body = resp.get_json()["error"]
    assert field in str(body["details"]), body


def test_a_cursor_this_api_did_not_give_out_is_refused(client, tokens, flagged) -> None:
    resp = _get(client, tokens["cs"], cursor="bm9wZQ")
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "bad_cursor"


def test_without_a_token_nothing_is_shown(client, flagged) -> None:
    assert client.get(URL).status_code == 401
