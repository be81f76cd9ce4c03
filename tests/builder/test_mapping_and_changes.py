"""The mapping table's and 会有什么变化's calls refuse bad input in Chinese, naming where."""

from __future__ import annotations

from typing import Any

from tests.builder.conftest import csrf_of

R = "promotion_apparel_festival"
TEXT = "# 抖店\nmapping douyin {\n    order_id = order_id  # 平台单号\n    shop = shop_name\n}\n"


def _post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers={"X-CSRFToken": csrf_of(client.get("/").data)})


def test_a_row_that_does_not_parse_is_named_by_row_and_field(signed_in: Any, festival: str) -> None:
    ops = signed_in("ops")
    rows = [{"target": "order_id", "source": "order_id"}, {"target": "shop", "source": "concat(shop_name,"}]
    resp = _post(ops, f"/rulesets/{R}/mappings/douyin/rows", {"content": TEXT, "rows": rows})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["message"].startswith("第 2 行（shop）写法有误：")


def test_rows_are_written_with_comments_kept(signed_in: Any, festival: str) -> None:
    ops = signed_in("ops")
    rows = [{"target": "order_id", "source": "order_id"}, {"target": "shop", "source": "\"抖店\""},
            {"target": "buyer_phone", "source": "post_tel"}]
    resp = _post(ops, f"/rulesets/{R}/mappings/douyin/rows", {"content": TEXT, "rows": rows})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["content"] == ("# 抖店\nmapping douyin {\n    order_id = order_id  # 平台单号\n"
                                          "    shop = \"抖店\"\n    buyer_phone = post_tel\n}\n")
    assert [r["target"] for r in resp.get_json()["mappings"][0]["rows"]] == ["order_id", "shop", "buyer_phone"]


def test_preview_of_a_payload_that_is_not_json(signed_in: Any, festival: str) -> None:
    resp = _post(signed_in("cs"), f"/rulesets/{R}/mappings/douyin/preview", {"content": TEXT, "payload": "{"})
    assert resp.status_code == 200
    assert resp.get_json()["error"].startswith("样例报文不是有效的 JSON")


def test_what_changes_takes_one_to_twenty_thousand_orders(signed_in: Any, festival: str) -> None:
    for n in (0, 20001, "10", True):
        resp = _post(signed_in("ops"), f"/rulesets/{R}/what-changes", {"content": "", "n": n})
        assert resp.status_code == 422
        assert resp.get_json()["error"]["details"] == [{"path": "/n", "message": "integer 1..20000"}]
