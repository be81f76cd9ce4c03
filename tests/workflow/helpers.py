"""Helpers for workflow tests: publish a template or a ruleset text through the HTTP API and
sign webhook calls the way senders do."""

from __future__ import annotations

import base64
import json
from typing import Any

from connectors.dingtalk import DingTalkCrypto, FakeDingTalkApproval
from engine.workflow.webhooks import sign_body
from tests.conftest import auth

DINGTALK_TOKEN = "token"
DINGTALK_AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
HOOK_SECRET = "hook-secret-for-tests"


def publish_template(client: Any, tokens: dict[str, str], name: str) -> dict[str, Any]:
    resp = client.post(f"/api/v1/templates/{name}/import", json={}, headers=auth(tokens["ops"]))
    assert resp.status_code == 201, resp.get_json()
    ruleset = resp.get_json()["ruleset"]
    pub = client.post(f"/api/v1/rulesets/{ruleset}/publish", json={}, headers=auth(tokens["admin"]))
    assert pub.status_code == 201, pub.get_json()
    return pub.get_json()


def publish_text(client: Any, tokens: dict[str, str], name: str, content: str) -> dict[str, Any]:
    exists = client.get(f"/api/v1/rulesets/{name}", headers=auth(tokens["ops"])).status_code == 200
    if exists:
        resp = client.put(f"/api/v1/rulesets/{name}/draft", json={"content": content},
                          headers=auth(tokens["ops"]))
    else:
        resp = client.post("/api/v1/rulesets", json={"name": name, "content": content},
                           headers=auth(tokens["ops"]))
    assert resp.status_code in (200, 201), resp.get_json()
    pub = client.post(f"/api/v1/rulesets/{name}/publish", json={}, headers=auth(tokens["admin"]))
    return {"status": pub.status_code, "body": pub.get_json()}


def dingtalk_sender() -> FakeDingTalkApproval:
    return FakeDingTalkApproval(DingTalkCrypto(DINGTALK_TOKEN, DINGTALK_AES_KEY))


def post_dingtalk(client: Any, event: dict[str, Any], *, timestamp_ms: int, tamper: bool = False) -> Any:
    query, body = dingtalk_sender().request(event, timestamp_ms=timestamp_ms, tamper=tamper)
    return client.post("/api/v1/hooks/dingtalk_approval", query_string=query, json=body)


def post_signed(client: Any, hook: str, payload: dict[str, Any], *, timestamp: int, secret: str = HOOK_SECRET,
                event_id: str | None = None) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode()
    ts = str(timestamp)
    headers = {"X-OrderPulse-Timestamp": ts, "X-OrderPulse-Signature": sign_body(secret, ts, body),
               "Content-Type": "application/json"}
    if event_id:
        headers["X-OrderPulse-Event-Id"] = event_id
    return client.post(f"/api/v1/hooks/{hook}", data=body, headers=headers)


def fire(client: Any, token: str, ticket: int, action: str, payload: dict[str, Any] | None = None,
         key: str | None = None) -> Any:
    headers = auth(token)
    if key:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/instances/{ticket}/actions/{action}", json=payload or {}, headers=headers)
