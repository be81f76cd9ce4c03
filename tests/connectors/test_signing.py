"""Signatures and URL handling against the self-computed vectors of the platform notes
(Feishu key/message order vs DingTalk's), plus the small helpers the connectors share."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

import pytest

from connectors import dingtalk_robot, feishu_bot, wecom_bot
from connectors.outbound import (
    ConnectorError,
    MissingSetting,
    rebase,
    redact,
    resolve,
    truncate_utf8,
)


def test_feishu_sign_vector_and_key_message_order() -> None:
    assert feishu_bot.sign(1599360473, "secret") == "q4jswNiMy51J5JuQV566yJat0/lQ/c+22kINzUgKsGU="
    swapped = base64.b64encode(hmac.new(b"secret", b"1599360473\nsecret", hashlib.sha256).digest()).decode()
    assert swapped.startswith("dDiq7SBN") and swapped.endswith("yeE=")
    assert feishu_bot.sign(1599360473, "secret") != swapped


def test_dingtalk_sign_vector_and_url_form() -> None:
    sign = dingtalk_robot.sign(1700000000000, "secret")
    assert sign == "OuzzJR5+xZ4/EYwqtNt6sMYZQMTa/HEGvc9miJe7XzY="
    assert quote_plus(sign) == "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"


def test_feishu_hook_url_from_token_or_url_and_rebased() -> None:
    assert feishu_bot.hook_url("tok", None) == "https://open.feishu.cn/open-apis/bot/v2/hook/tok"
    assert feishu_bot.hook_url("tok", "http://127.0.0.1:9") == "http://127.0.0.1:9/open-apis/bot/v2/hook/tok"
    full = "https://open.feishu.cn/open-apis/bot/v2/hook/abc-123"
    assert feishu_bot.hook_url(full, None) == full
    assert feishu_bot.hook_url(full, "http://127.0.0.1:9/") == "http://127.0.0.1:9/open-apis/bot/v2/hook/abc-123"
    with pytest.raises(MissingSetting):
        feishu_bot.hook_url("https://open.feishu.cn/open-apis/bot/v2/hook/", None)


def test_keys_and_tokens_from_full_urls() -> None:
    assert wecom_bot.extract_key("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K-1") == "K-1"
    assert wecom_bot.extract_key("K-1") == "K-1"
    assert dingtalk_robot.access_token("https://oapi.dingtalk.com/robot/send?access_token=T9") == "T9"
    with pytest.raises(MissingSetting, match="key="):
        wecom_bot.extract_key("https://qyapi.weixin.qq.com/cgi-bin/webhook/send")


def test_rebase_keeps_path_and_query() -> None:
    assert rebase("https://a.example/x/y?k=1", "http://127.0.0.1:8080/prefix") == "http://127.0.0.1:8080/prefix/x/y?k=1"


def test_truncate_utf8_cuts_on_a_character_boundary() -> None:
    text = "质检" * 2000  # 12000 bytes
    cut = truncate_utf8(text, 2048)
    assert len(cut.encode("utf-8")) <= 2048 and cut.endswith("…") and cut[:-1] == text[: len(cut) - 1]
    assert truncate_utf8("short", 2048) == "short"


def test_resolve_reads_env_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = {"channel": "群", "settings": {"key": {"env": "OP_TEST_KEY"}, "plain": "v"}}
    monkeypatch.delenv("OP_TEST_KEY", raising=False)
    with pytest.raises(MissingSetting) as info:
        resolve("WeCom bot", payload, "key")
    assert "OP_TEST_KEY" in str(info.value) and "retrying will not help" in str(info.value)
    assert info.value.permanent
    monkeypatch.setenv("OP_TEST_KEY", "k1")
    assert resolve("WeCom bot", payload, "key") == "k1"
    assert resolve("WeCom bot", payload, "plain") == "v"
    assert resolve("WeCom bot", payload, "absent", required=False) is None
    with pytest.raises(ConnectorError, match="declares no 'absent' setting"):
        resolve("WeCom bot", payload, "absent")


def test_redact_hides_raw_and_url_encoded_secrets() -> None:
    assert redact("url?sign=a%2Bb&key=a+b", ["a+b"]) == "url?sign=***&key=***"
