"""Helpers the alert tests share: publishing a new ruleset, draining the consumer, the checker's
errors for one alert, and a fake Feishu bot whose hook and secret the environment names (as a
published channel reads them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from connectors.fakes import FakeFeishuBot
from dsl.checker import check
from dsl.parser import parse_text
from engine.alerts.service import run_alerts
from engine.rulesets import service as rulesets

CHANNEL = "channel c feishu { webhook env A, secret env B }\n"


def drain(services: Any) -> None:
    """Run the alerts' consumer until it has read every row there is."""
    while run_alerts(services).rows_read:
        pass


def publish_new(services: Any, name: str, content: str) -> None:
    """Create ruleset ``name`` with ``content`` and publish it."""
    with services.db.transaction(immediate=True) as s:
        rulesets.create_ruleset(s, name=name, actor="ops", now=services.clock.now(), content=content)
        rulesets.publish(s, name, actor="ops", now=services.clock.now())


def alert_errors(body: str, filename: str = "<input>") -> list[str]:
    """The checker's errors (``file:line:col message``) for ``alert a { measure BODY notify c "x" }``
    declared beside a channel ``c`` (line 2)."""
    model = parse_text(f'{CHANNEL}alert a {{ measure {body} notify c "x" }}', filename)
    return [str(d) for d in check(model) if d.severity == "error"]


@contextmanager
def feishu_bot(monkeypatch: pytest.MonkeyPatch, token: str, secret: str, hook_env: str,
               secret_env: str) -> Iterator[FakeFeishuBot]:
    """A fake Feishu bot (it checks the signature) that a channel declared with ``webhook env
    HOOK_ENV, secret env SECRET_ENV`` reaches."""
    with FakeFeishuBot({token: secret}) as bot:
        monkeypatch.setenv("ORDERPULSE_FEISHU_BASE_URL", bot.url)
        monkeypatch.setenv(hook_env, f"https://open.feishu.cn/open-apis/bot/v2/hook/{token}")
        monkeypatch.setenv(secret_env, secret)
        yield bot
