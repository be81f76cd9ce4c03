"""快递鸟 DataSign is base64 of the lowercase hex MD5 text of RequestData + AppKey, form-encoded
on the wire: the worked example of platforms.md §12 byte for byte, and the fake gateway takes
a signed 1007 call and refuses the same call with one byte of the sign changed."""

from __future__ import annotations

import json

import requests

from connectors.fakes.kdniao_waybill import FakeKdniao
from connectors.kdniao import EORDER_PATH, KdniaoClient, data_sign

EXAMPLE = '{"OrderCode":"X1","ShipperCode":"YTO"}'


def test_the_worked_example_signs_byte_for_byte() -> None:
    assert data_sign(EXAMPLE, "apikey") == "NzBkNzFmY2EwOTUyMDVhMWI2NmNhNDdiYjJjNTk5Y2I="


def test_the_sign_travels_form_encoded_next_to_the_request_data() -> None:
    client = KdniaoClient(ebusiness_id="1700001", app_key="apikey", base_url="http://kdniao.invalid")
    body = requests.Request("POST", client.base_url + EORDER_PATH, data=client.form(EXAMPLE)).prepare().body
    assert isinstance(body, str)
    fields = dict(part.split("=", 1) for part in body.split("&"))
    assert fields["DataSign"] == "NzBkNzFmY2EwOTUyMDVhMWI2NmNhNDdiYjJjNTk5Y2I%3D"
    assert fields["RequestType"] == "1007" and fields["DataType"] == "2" and fields["EBusinessID"] == "1700001"
    assert fields["RequestData"] == "%7B%22OrderCode%22%3A%22X1%22%2C%22ShipperCode%22%3A%22YTO%22%7D"


def test_the_fake_checks_the_sign_as_kdniao_does() -> None:
    data = json.dumps({"OrderCode": "OP1", "ShipperCode": "SF", "Sender": {"Name": "仓", "Mobile": "057188886666",
                       "ProvinceName": "浙江省", "CityName": "杭州市", "ExpAreaName": "余杭区", "Address": "良睦路1399号"},
                       "Receiver": {"Name": "王小明", "Mobile": "13800001111", "ProvinceName": "江苏省",
                                    "CityName": "南京市", "ExpAreaName": "鼓楼区", "Address": "中山北路30号"},
                       "Commodity": [{"GoodsName": "龙井", "Goodsquantity": 1}]}, ensure_ascii=False)
    with FakeKdniao(ebusiness_id="1700001", app_key="apikey") as fake:
        client = KdniaoClient(ebusiness_id="1700001", app_key="apikey", base_url=fake.url)
        form = client.form(data)
        bad = {**form, "DataSign": form["DataSign"][:-2] + ("A=" if form["DataSign"][-2] != "A" else "B=")}
        refused = requests.post(fake.url + EORDER_PATH, data=bad, timeout=5).json()
        assert (refused["Success"], refused["ResultCode"]) == (False, "102")
        assert "签名" in refused["Reason"] and fake.messages == []
        answer = requests.post(fake.url + EORDER_PATH, data=form, timeout=5).json()
        assert answer["Success"] is True and answer["ResultCode"] == "100"
        assert answer["Order"]["OrderCode"] == "OP1" and answer["Order"]["LogisticCode"].startswith("SF")
        assert answer["Order"]["LogisticCode"] in answer["PrintTemplate"] and "王小明" in answer["PrintTemplate"]
        again = requests.post(fake.url + EORDER_PATH, data=form, timeout=5).json()  # the same OrderCode again
        assert again["ResultCode"] == "106" and again["Order"]["LogisticCode"] == answer["Order"]["LogisticCode"]
        assert len(fake.messages) == 1
