"""Signing details the platforms' official SDKs get right: booleans are sent as ``true``,
Douyin's ``param_json`` writes whole floats without ``.0``, and TOP leaves whitespace-only
values out (Java TOP SDK ``StringUtils.areNotEmpty``); and DingTalk's own published
callback test vector (token ``mryue``, corp id ``ding6ccabc44d2c8d38b``) from its official
callback-crypto samples, through the hook route."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors import douyin_stock, kuaishou_stock, pdd_stock, taobao_stock
from connectors.dingtalk import DingTalkCallbackError, DingTalkCrypto
from tests.workflow.helpers import publish_template

# DingCallbackCrypto3.py (open-dingtalk/DingTalk-Callback-Crypto): the published vector
VECTOR_TOKEN = "mryue"
VECTOR_AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
VECTOR_CORP_ID = "ding6ccabc44d2c8d38b"
VECTOR_QUERY = {"msg_signature": "03044561471240d4a14bb09372dfcfd4fd0e40cb", "timeStamp": "1608001896814",
                "nonce": "WL4PK6yA"}
VECTOR_ENCRYPT = ("0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju4"
                  "yhELOFchzNukR+t8SB/qk4ROMu3")


def test_dingtalk_published_vector_decrypts_to_check_url() -> None:
    crypto = DingTalkCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_CORP_ID)
    assert crypto.open_callback(dict(VECTOR_QUERY), {"encrypt": VECTOR_ENCRYPT}) == {"EventType": "check_url"}
    with pytest.raises(DingTalkCallbackError) as other_corp:
        DingTalkCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, "ding-other").open_callback(dict(VECTOR_QUERY),
                                                                                 {"encrypt": VECTOR_ENCRYPT})
    assert other_corp.value.reason == "wrong_owner"
    with pytest.raises(DingTalkCallbackError) as tampered:
        crypto.open_callback({**VECTOR_QUERY, "nonce": "WL4PK6yB"}, {"encrypt": VECTOR_ENCRYPT})
    assert tampered.value.reason == "bad_signature"


def test_dingtalk_published_vector_through_the_hook_route(client, tokens, clock, monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_CALLBACK_TOKEN", VECTOR_TOKEN)
    monkeypatch.setenv("DINGTALK_AES_KEY", VECTOR_AES_KEY)
    publish_template(client, tokens, "aftersales_standard")
    clock.set(datetime.fromtimestamp(1608001896.814, UTC))
    resp = client.post("/api/v1/hooks/dingtalk_approval", query_string=VECTOR_QUERY, json={"encrypt": VECTOR_ENCRYPT})
    assert resp.status_code == 200, resp.get_json()
    reply = resp.get_json()
    crypto = DingTalkCrypto(VECTOR_TOKEN, VECTOR_AES_KEY)
    crypto.verify(reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
    assert crypto.decrypt(reply["encrypt"]) == "success"


def _captured_top_call(business: dict[str, Any]) -> dict[str, str]:
    connector = taobao_stock.build("taobao", {"app_key": "12345678", "app_secret": "top-secret",
                                              "access_token": "sess-1"}, "http://127.0.0.1:9")
    seen: dict[str, str] = {}

    def post(url: str, *, data: dict[str, str], headers: Any) -> dict[str, Any]:
        seen.update(data)
        return {"item_quantity_update_response": {"item": {}}}

    connector.post = post  # type: ignore[method-assign]
    connector.clock = lambda: 1_700_000_000.0
    connector.call("taobao.item.quantity.update", business)
    return seen


def test_top_sends_booleans_as_true_and_drops_whitespace_only_values_like_the_java_sdk() -> None:
    sent = _captured_top_call({"num_iid": 1, "quantity": 5, "is_virtual": True, "outer_id": "  ", "price": 12.0})
    assert sent["is_virtual"] == "true" and sent["price"] == "12"
    assert "outer_id" not in sent
    canonical = "".join(f"{k}{sent[k]}" for k in sorted(sent) if k != "sign")
    assert sent["sign"] == hashlib.md5(f"top-secret{canonical}top-secret".encode()).hexdigest().upper()
    # the signature ignores a whitespace-only value even when a caller passes one in
    assert taobao_stock.sign({**sent, "outer_id": " \t"}, "top-secret") == sent["sign"]


def test_douyin_param_json_writes_whole_floats_without_decimals() -> None:
    assert douyin_stock.param_json({"sku_id": 7, "price": 12.0, "ratio": 0.5, "incremental": False,
                                    "list": [1.0, {"x": 3.0}]}) == \
        '{"incremental":false,"list":[1,{"x":3}],"price":12,"ratio":0.5,"sku_id":7}'


def test_pdd_and_kuaishou_write_booleans_and_floats_as_the_sdks_do() -> None:
    assert (pdd_stock.form_value(True), pdd_stock.form_value(False), pdd_stock.form_value(12.0)) == ("true", "false", "12")
    assert pdd_stock.form_value({"a": True, "b": 2.0}) == '{"a":true,"b":2}'
    connector = kuaishou_stock.build("kuaishou", {"app_key": "k", "app_secret": "s", "access_token": "t"},
                                     "http://127.0.0.1:9")
    connector.clock = lambda: 1_700_000_000.0
    assert connector.signed_params("open.item.get", {"kwaiItemId": 5.0, "flag": True})["param"] == \
        '{"kwaiItemId":5,"flag":true}'
