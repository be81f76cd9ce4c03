"""Table-driven access test over EVERY route of the app, including routes added later.

For each URL rule (except static files) and each method, the route must declare its access
(``@allow(...)`` or ``@public``). Declared routes are then called with no token (→ 401) and
with a token of each of the six staff roles (→ 403 when the role is not declared, anything
but 401/403 when it is), using placeholder path parameters and an empty JSON body. Public
routes are called without a token and must not ask for one.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from werkzeug.routing import AnyConverter, FloatConverter, IntegerConverter, Rule, UUIDConverter

from engine.auth.access import PUBLIC, allow, check_access, declared_roles, public
from engine.auth.roles import STAFF_ROLES
from engine.errors import Forbidden, Unprocessable
from tests.conftest import auth

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
TOKEN_LAYER_401 = "missing or invalid API token"


@dataclass
class RouteAudit:
    calls: list[tuple[str, str, str, int]] = field(default_factory=list)  # method, url, caller, status
    failures: list[str] = field(default_factory=list)
    routes: set[tuple[str, str]] = field(default_factory=set)


def _placeholder(converter: Any) -> Any:
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.0
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]  # <any(a, b):name> matches only its items
    return "x"


def _url(app: Flask, rule: Rule, method: str) -> str:
    values = {arg: _placeholder(conv) for arg, conv in rule._converters.items()}
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def _error(resp: Any) -> dict[str, Any]:
    body = resp.get_json(silent=True) or {}
    return body.get("error") or {}


def audit_routes(app: Flask, client: Any, tokens: dict[str, str]) -> RouteAudit:
    report = RouteAudit()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        declared = declared_roles(view)
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            where = f"{method} {rule.rule} ({rule.endpoint})"
            report.routes.add((method, rule.rule))
            if declared is None:
                report.failures.append(f"{where}: no access declaration; add @allow(...) or @public")
                continue
            url = _url(app, rule, method)
            body = {"json": {}} if method in BODY_METHODS else {}

            resp = client.open(url, method=method, **body)
            report.calls.append((method, url, "anonymous", resp.status_code))
            if declared == PUBLIC:
                if resp.status_code == 401 and _error(resp).get("message") == TOKEN_LAYER_401:
                    report.failures.append(f"{where}: declared public but asks for a token")
                if resp.status_code == 403 and "may not call this route" in _error(resp).get("message", ""):
                    report.failures.append(f"{where}: declared public but checks roles")
                continue
            if rule.endpoint.startswith("builder.") and resp.status_code == 302 \
                    and resp.headers["Location"].startswith("/login?next="):
                pass  # a builder page sends an anonymous visitor to the login form
            elif resp.status_code != 401 or _error(resp).get("code") != "unauthorized":
                hint = " (is @allow directly under @blp.route, above @blp.arguments?)" if resp.status_code in (400, 422) else ""
                report.failures.append(f"{where}: anonymous call answered {resp.status_code}, expected 401{hint}")

            for role, token in tokens.items():
                resp = client.open(url, method=method, headers=auth(token), **body)
                report.calls.append((method, url, role, resp.status_code))
                if role in declared:
                    if resp.status_code in (401, 403):
                        report.failures.append(f"{where}: role {role} is declared but got {resp.status_code}")
                elif resp.status_code != 403 or _error(resp).get("code") != "forbidden":
                    report.failures.append(f"{where}: role {role} is not declared but got {resp.status_code}, expected 403")
    return report


def test_every_route_declares_and_enforces_its_roles(app, client, tokens) -> None:
    assert set(tokens) == set(STAFF_ROLES)
    report = audit_routes(app, client, tokens)
    assert not report.failures, "\n".join(report.failures)
    # The walk really covered the API: every ruleset route, each with 7 callers.
    ruleset_routes = {r for r in report.routes if r[1].startswith("/api/v1/rulesets")}
    assert len(ruleset_routes) == 11
    assert ("POST", "/api/v1/rulesets/<name>/publish") in ruleset_routes
    calls = [c for c in report.calls if c[1] == "/api/v1/rulesets/x/publish"]
    assert sorted((c[2], c[3]) for c in calls) == sorted(
        [("anonymous", 401), ("admin", 404), ("ops", 404), ("warehouse", 403), ("finance", 403), ("cs", 403), ("cs_lead", 403)]
    )
    api_routes = [r for r in report.routes if r[1].startswith("/api/v1")]
    assert len(api_routes) >= len(ruleset_routes) + 1


def test_the_walk_catches_a_route_without_a_declaration(app, client, tokens) -> None:
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: {"ok": True}, methods=["GET"])
    report = audit_routes(app, client, tokens)
    assert report.failures == ["GET /api/v1/forgotten (forgotten): no access declaration; add @allow(...) or @public"]


def test_the_walk_catches_routes_that_do_not_answer_as_declared(app, client, tokens) -> None:
    @allow("admin")
    def broken(n: int) -> Any:
        raise Forbidden("refused everybody")

    def greedy() -> Any:
        check_access(frozenset({"admin"}))
        return {"ok": True}

    app.add_url_rule("/api/v1/broken/<int:n>", "broken", broken, methods=["GET"])
    app.add_url_rule("/api/v1/greedy", "greedy", public(greedy), methods=["POST"])
    report = audit_routes(app, client, tokens)
    assert sorted(report.failures) == [
        "GET /api/v1/broken/<int:n> (broken): role admin is declared but got 403",
        "POST /api/v1/greedy (greedy): declared public but asks for a token",
    ]
    assert ("GET", "/api/v1/broken/1", "anonymous", 401) in report.calls


def test_access_is_checked_before_body_parsing_whatever_the_decorator_order(app, client, tokens) -> None:
    """A decorator that validates the body sits ABOVE ``@allow`` (as ``@blp.arguments`` may):
    callers who may not call the route still get 401/403, never a validation error."""

    def parses_body_first(view: Any) -> Any:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not request.get_json(silent=True):
                raise Unprocessable("body required", details=[{"path": "/qty", "message": "required"}])
            return view(*args, **kwargs)

        return wrapper

    @parses_body_first
    @allow("warehouse")
    def adjust() -> Any:
        return {"ok": True}

    app.add_url_rule("/api/v1/adjust-test", "adjust_test", adjust, methods=["POST"])
    assert client.post("/api/v1/adjust-test", json={}).status_code == 401
    assert client.post("/api/v1/adjust-test", json={}, headers=auth(tokens["cs"])).status_code == 403
    assert client.post("/api/v1/adjust-test", json={}, headers=auth(tokens["warehouse"])).status_code == 422
    resp = client.post("/api/v1/adjust-test", json={"qty": 1}, headers=auth(tokens["warehouse"]))
    assert resp.status_code == 200 and resp.get_json() == {"ok": True}
