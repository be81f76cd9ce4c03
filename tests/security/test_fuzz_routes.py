"""Random bytes and random JSON posted to every route of the app (enumerated from its URL map,
so routes added later are covered too) by every role and by anonymous callers: never a 5xx,
and a refused request (4xx) changes no stored row."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.auth.roles import STAFF_ROLES
from tests.conftest import auth
from tests.orders.order_factory import order_json
from tests.security.helpers import stored_state
from tests.workflow.helpers import publish_template

PLAUSIBLE = {"machine": "aftersales", "sku_id": "TEA-1", "name": "aftersales_standard", "action": "审核通过",
             "hook": "dingtalk_approval", "channel": "pdd", "instance_id": "1", "message_id": "1", "version": "1",
             "kind": "machine", "decl": "aftersales", "template": "aftersales_standard", "user_id": "1",
             "token_id": "1", "pk": "1", "order_id": "TB1", "parked_id": "1", "source": "taobao",
             "filename": "ruleset.js", "cell": "1113:3855", "ticket_id": "1", "firing_id": "1"}
PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")  # <name>, <int:name>, <any(a, b):name>
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20)


def _routes(app: Any) -> list[tuple[str, Any]]:
    """(method, rule) for every route but the document itself, with its path parameters."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule))
    return found


def _url(rule: Any, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: quote(values[m.group(2)], safe=""), rule.rule)


def test_random_bodies_to_every_route_by_every_role(app, client, services, tokens, clock, monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_CALLBACK_TOKEN", "token")
    monkeypatch.setenv("DINGTALK_AES_KEY", "A" * 43)
    publish_template(client, tokens, "aftersales_standard")
    publish_template(client, tokens, "sources_six_channels")  # the order sources, their pushes and mappings
    assert client.post("/api/v1/orders", json=order_json("TB1"), headers=auth(tokens["ops"])).status_code == 201
    client.post("/api/v1/stock/adjust", json={"sku_id": "TEA-1", "delta": 5, "reason": "inbound"},
                headers=auth(tokens["admin"]))
    client.post("/api/v1/machines/aftersales/instances", json={"data": {"order_id": "TB1", "consumer_id": "c"}},
                headers=auth(tokens["cs"]))
    routes = _routes(app)
    assert len(routes) >= 30
    seen: set[str] = set()

    @given(route=st.sampled_from(routes), role=st.sampled_from([None, *STAFF_ROLES]),
           body=st.one_of(st.binary(max_size=300), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
           params=st.dictionaries(st.sampled_from(sorted(PLAUSIBLE)), st.text(min_size=1, max_size=20), max_size=2),
           content_type=st.sampled_from(["application/json", "application/json", "text/plain", ""]))
    @settings(max_examples=400, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    def post_anything(route: tuple[str, Any], role: str | None, body: bytes, params: dict[str, str],
                      content_type: str) -> None:
        probe(route, role, body, params, content_type)

    def probe(route: tuple[str, Any], role: str | None, body: bytes, params: dict[str, str],
              content_type: str) -> None:
        method, rule = route
        values = {**PLAUSIBLE, **params}
        headers = auth(tokens[role]) if role else {}
        if content_type:
            headers["Content-Type"] = content_type
        before = stored_state(services)
        resp = client.open(_url(rule, values), method=method, data=body, headers=headers)
        seen.add(rule.rule)
        assert resp.status_code < 500, (method, rule.rule, role, body[:100], resp.get_data(as_text=True)[:300])
        if resp.status_code >= 400:
            assert stored_state(services) == before, (method, rule.rule, role, resp.status_code)

    post_anything()
    # the random draw need not reach every route: each route it missed still gets a malformed body,
    # a JSON body that fits no schema and an empty one, by every role and anonymously
    for route in routes:
        if route[1].rule in seen:
            continue
        for role in (None, *STAFF_ROLES):
            for body in (b"\xff\xfe{", b'{"unexpected": [1, "x", null]}', b""):
                probe(route, role, body, {}, "application/json")
    assert seen == {r.rule for _, r in routes}
