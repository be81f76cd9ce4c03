"""The group-bot handlers over real HTTP against the fake bots: a delivered message is
verified (key, signature, timestamp) and recorded; a wrong secret, a platform error code, an
HTTP error or an unreachable server raises (so the dispatcher retries) with the platform and
code named and no secret in the message."""

from __future__ import annotations

import time

import pytest

from connectors import dingtalk_robot, feishu_bot, wecom_bot
from connectors.fakes import FakeDingTalkRobot, FakeFeishuBot, FakeWeComBot
from connectors.outbound import ConnectorError, MissingSetting
from tests.connectors.conftest import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FEISHU_SECRET,
    FEISHU_TOKEN,
    WECOM_KEY,
    notify_payload,
)

WECOM = notify_payload("wecom", {"key": {"env": "OP_WECOM_KEY"}})
FEISHU = notify_payload("feishu", {"webhook": {"env": "OP_FEISHU_HOOK"}, "secret": {"env": "OP_FEISHU_SECRET"}})
DINGTALK = notify_payload("dingtalk", {"webhook": {"env": "OP_DT_HOOK"}, "secret": {"env": "OP_DT_SECRET"}})


# --- WeCom --------------------------------------------------------------------------------------

@pytest.fixture
def wecom_env(monkeypatch: pytest.MonkeyPatch, wecom_fake: FakeWeComBot) -> FakeWeComBot:
    monkeypatch.setenv("ORDERPULSE_WECOM_BASE_URL", wecom_fake.url)
    monkeypatch.setenv("OP_WECOM_KEY", WECOM_KEY)
    return wecom_fake


def test_wecom_delivers_text_to_the_key(wecom_env: FakeWeComBot, run) -> None:
    run(wecom_bot.deliver, "notify.wecom", {**WECOM, "to": ["13800138000", "zhangsan"]})
    assert wecom_env.messages == [{"key": WECOM_KEY, "content": "售后单 7 质检通过，请处理",
                                   "mentioned_list": ["zhangsan"], "mentioned_mobile_list": ["13800138000"]}]
    request = wecom_env.requests[0]
    assert request.path == "/cgi-bin/webhook/send" and request.query == {"key": WECOM_KEY}
    assert request.json["msgtype"] == "text"


def test_wecom_key_may_be_the_whole_webhook_url(wecom_env: FakeWeComBot, run,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP_WECOM_KEY", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}")
    run(wecom_bot.deliver, "notify.wecom", WECOM)
    assert len(wecom_env.messages) == 1


def test_wecom_wrong_key_is_refused_and_raises_without_the_key(wecom_env: FakeWeComBot, run,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP_WECOM_KEY", "not-the-key")
    with pytest.raises(ConnectorError) as info:
        run(wecom_bot.deliver, "notify.wecom", WECOM)
    text = str(info.value)
    assert text.startswith("WeCom bot: errcode 93000") and info.value.permanent
    assert "not-the-key" not in text
    assert wecom_env.messages == [] and len(wecom_env.requests) == 1


def test_wecom_rate_limit_errcode_raises_as_retryable(monkeypatch: pytest.MonkeyPatch, run) -> None:
    with FakeWeComBot([WECOM_KEY], per_minute=2) as fake:
        monkeypatch.setenv("ORDERPULSE_WECOM_BASE_URL", fake.url)
        monkeypatch.setenv("OP_WECOM_KEY", WECOM_KEY)
        run(wecom_bot.deliver, "notify.wecom", WECOM)
        run(wecom_bot.deliver, "notify.wecom", WECOM)
        with pytest.raises(ConnectorError, match="errcode 45009") as info:
            run(wecom_bot.deliver, "notify.wecom", WECOM)
        assert not info.value.permanent and info.value.code == 45009
        assert len(fake.messages) == 2


def test_wecom_long_text_is_cut_to_2048_bytes(wecom_env: FakeWeComBot, run) -> None:
    run(wecom_bot.deliver, "notify.wecom", {**WECOM, "message": "质检不合格：" + "起球" * 1500})
    content = wecom_env.messages[0]["content"]
    assert len(content.encode("utf-8")) <= 2048 and content.startswith("质检不合格：起球")


def test_wecom_missing_env_var_raises_a_clear_error_and_sends_nothing(wecom_env: FakeWeComBot, run,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OP_WECOM_KEY")
    with pytest.raises(MissingSetting, match="environment variable OP_WECOM_KEY .*is not set"):
        run(wecom_bot.deliver, "notify.wecom", WECOM)
    assert wecom_env.requests == []


def test_wecom_http_500_raises(wecom_env: FakeWeComBot, run) -> None:
    wecom_env.fail_next(1, status=500)
    with pytest.raises(ConnectorError, match="WeCom bot: HTTP 500") as info:
        run(wecom_bot.deliver, "notify.wecom", WECOM)
    assert WECOM_KEY not in str(info.value)


def test_unreachable_server_raises_without_the_key_in_the_message(monkeypatch: pytest.MonkeyPatch, run) -> None:
    fake = FakeWeComBot([WECOM_KEY]).start()
    url = fake.url
    fake.stop()  # nothing listens on that port any more
    monkeypatch.setenv("ORDERPULSE_WECOM_BASE_URL", url)
    monkeypatch.setenv("OP_WECOM_KEY", WECOM_KEY)
    with pytest.raises(ConnectorError, match="WeCom bot: request failed: ConnectionError") as info:
        run(wecom_bot.deliver, "notify.wecom", WECOM)
    assert WECOM_KEY not in str(info.value)


def test_channel_base_url_setting_overrides_the_env(wecom_fake: FakeWeComBot, run,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERPULSE_WECOM_BASE_URL", "http://127.0.0.1:9")  # would fail: nothing there
    monkeypatch.setenv("OP_WECOM_KEY", WECOM_KEY)
    payload = notify_payload("wecom", {"key": {"env": "OP_WECOM_KEY"}, "base_url": wecom_fake.url})
    run(wecom_bot.deliver, "notify.wecom", payload)
    assert len(wecom_fake.messages) == 1


# --- Feishu -------------------------------------------------------------------------------------

@pytest.fixture
def feishu_env(monkeypatch: pytest.MonkeyPatch, feishu_fake: FakeFeishuBot) -> FakeFeishuBot:
    monkeypatch.setenv("ORDERPULSE_FEISHU_BASE_URL", feishu_fake.url)
    monkeypatch.setenv("OP_FEISHU_HOOK", f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}")
    monkeypatch.setenv("OP_FEISHU_SECRET", FEISHU_SECRET)
    return feishu_fake


def test_feishu_delivers_signed_text(feishu_env: FakeFeishuBot, run) -> None:
    before = int(time.time())
    run(feishu_bot.deliver, "notify.feishu", FEISHU)
    assert feishu_env.messages == [{"token": FEISHU_TOKEN, "text": "售后单 7 质检通过，请处理"}]
    body = feishu_env.requests[0].json
    assert body["msg_type"] == "text" and int(body["timestamp"]) >= before
    assert body["sign"] == feishu_bot.sign(body["timestamp"], FEISHU_SECRET)


def test_feishu_webhook_may_be_a_bare_token(feishu_env: FakeFeishuBot, run, monkeypatch) -> None:
    monkeypatch.setenv("OP_FEISHU_HOOK", FEISHU_TOKEN)
    run(feishu_bot.deliver, "notify.feishu", FEISHU)
    assert len(feishu_env.messages) == 1


def test_feishu_bot_without_signature(feishu_env: FakeFeishuBot, run, monkeypatch) -> None:
    monkeypatch.setenv("OP_FEISHU_HOOK", "unsigned-token")
    run(feishu_bot.deliver, "notify.feishu", notify_payload("feishu", {"webhook": {"env": "OP_FEISHU_HOOK"}}))
    assert feishu_env.messages[0]["token"] == "unsigned-token"
    assert "sign" not in feishu_env.requests[0].json


def test_feishu_wrong_secret_is_refused_with_19021(feishu_env: FakeFeishuBot, run, monkeypatch) -> None:
    monkeypatch.setenv("OP_FEISHU_SECRET", "wrong-secret")
    with pytest.raises(ConnectorError, match="Feishu bot: code 19021") as info:
        run(feishu_bot.deliver, "notify.feishu", FEISHU)
    assert info.value.permanent and "wrong-secret" not in str(info.value)
    assert feishu_env.messages == []


def test_feishu_timestamp_two_hours_off_is_refused(feishu_env: FakeFeishuBot, run) -> None:
    late = feishu_bot.make_deliver(wall_clock=lambda: time.time() - 7200)
    with pytest.raises(ConnectorError, match="code 19021"):
        run(late, "notify.feishu", FEISHU)
    assert feishu_env.messages == []


def test_feishu_frequency_limit_code_raises_as_retryable(feishu_env: FakeFeishuBot, run) -> None:
    feishu_env.answer_next({"code": 11232, "msg": "frequency limited", "data": {}})
    with pytest.raises(ConnectorError, match="code 11232") as info:
        run(feishu_bot.deliver, "notify.feishu", FEISHU)
    assert not info.value.permanent
    run(feishu_bot.deliver, "notify.feishu", FEISHU)  # the next try goes through
    assert len(feishu_env.messages) == 1


def test_feishu_per_minute_limit_is_enforced_by_the_fake(monkeypatch, run) -> None:
    with FakeFeishuBot({FEISHU_TOKEN: FEISHU_SECRET}, per_minute=1) as fake:
        monkeypatch.setenv("ORDERPULSE_FEISHU_BASE_URL", fake.url)
        monkeypatch.setenv("OP_FEISHU_HOOK", FEISHU_TOKEN)
        monkeypatch.setenv("OP_FEISHU_SECRET", FEISHU_SECRET)
        run(feishu_bot.deliver, "notify.feishu", FEISHU)
        with pytest.raises(ConnectorError, match="code 11232"):
            run(feishu_bot.deliver, "notify.feishu", FEISHU)
        assert len(fake.messages) == 1


# --- DingTalk robot ------------------------------------------------------------------------------

@pytest.fixture
def dingtalk_env(monkeypatch: pytest.MonkeyPatch, dingtalk_fake: FakeDingTalkRobot) -> FakeDingTalkRobot:
    monkeypatch.setenv("ORDERPULSE_DINGTALK_BASE_URL", dingtalk_fake.url)
    monkeypatch.setenv("OP_DT_HOOK", f"https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}")
    monkeypatch.setenv("OP_DT_SECRET", DINGTALK_SECRET)
    return dingtalk_fake


def test_dingtalk_delivers_signed_text_with_mentions(dingtalk_env: FakeDingTalkRobot, run) -> None:
    run(dingtalk_robot.deliver, "notify.dingtalk", {**DINGTALK, "to": "13800138000"})
    [message] = dingtalk_env.messages
    assert message["token"] == DINGTALK_TOKEN
    assert message["content"] == "售后单 7 质检通过，请处理 @13800138000"
    assert message["at"] == {"isAtAll": False, "atMobiles": ["13800138000"]}
    query = dingtalk_env.requests[0].query
    assert query["sign"] == dingtalk_robot.sign(query["timestamp"], DINGTALK_SECRET)
    assert abs(int(query["timestamp"]) - time.time() * 1000) < 60_000


def test_dingtalk_wrong_secret_is_refused_with_310000(dingtalk_env: FakeDingTalkRobot, run, monkeypatch) -> None:
    monkeypatch.setenv("OP_DT_SECRET", "SECwrong")
    with pytest.raises(ConnectorError, match="DingTalk robot: errcode 310000: sign not match") as info:
        run(dingtalk_robot.deliver, "notify.dingtalk", DINGTALK)
    assert info.value.permanent and "SECwrong" not in str(info.value)
    assert dingtalk_env.messages == []


def test_dingtalk_keywords_and_rate_limit(monkeypatch: pytest.MonkeyPatch, run) -> None:
    with FakeDingTalkRobot({DINGTALK_TOKEN: None}, keywords=["售后"], per_minute=1) as fake:
        monkeypatch.setenv("ORDERPULSE_DINGTALK_BASE_URL", fake.url)
        payload = notify_payload("dingtalk", {"access_token": DINGTALK_TOKEN})
        with pytest.raises(ConnectorError, match="errcode 310000: keywords not in content"):
            run(dingtalk_robot.deliver, "notify.dingtalk", {**payload, "message": "库存预警"})
        run(dingtalk_robot.deliver, "notify.dingtalk", payload)
        with pytest.raises(ConnectorError, match="errcode 130101") as info:
            run(dingtalk_robot.deliver, "notify.dingtalk", payload)
        assert not info.value.permanent
        assert [m["content"] for m in fake.messages] == ["售后单 7 质检通过，请处理"]
        assert "sign" not in fake.requests[1].query


def test_dingtalk_unknown_token(dingtalk_env: FakeDingTalkRobot, run, monkeypatch) -> None:
    monkeypatch.setenv("OP_DT_HOOK", "someone-elses-token")
    with pytest.raises(ConnectorError, match="errcode 300001") as info:
        run(dingtalk_robot.deliver, "notify.dingtalk", DINGTALK)
    assert "someone-elses-token" not in str(info.value)
