"""schemathesis over ``/api/v1/openapi.json`` of a served app (real HTTP, a thread-served
WSGI server) with seeded data: every operation, bounded examples, all checks on (no 5xx,
bodies and status codes as documented, negative data refused, …)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from werkzeug.serving import make_server

from engine.app import create_app
from engine.auth.users import create_user, issue_token
from engine.config import Settings
from engine.services import Services
from tests.conftest import _truncate_all
from tests.workflow.helpers import publish_template

MAX_EXAMPLES = 30  # per operation and mode: about a minute per back end (SQLite), two on PostgreSQL
# Every check is on. Schema-valid data may still be refused by a business rule with 422 (an
# unknown machine field, a ruleset version that does not exist, a draft that does not check):
# the contract's 422 is "a value is invalid", so it joins the statuses valid data may get.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}}})


@pytest.fixture(scope="module")
def served(_db_backend: Any, redis_url: str | None, redis_prefix: str) -> Iterator[dict[str, Any]]:
    kind, handle = _db_backend
    url = handle.fresh_url() if kind == "sqlite" else handle
    services = Services.build(Settings(database_url=url, redis_url=redis_url, redis_prefix=redis_prefix + "st:",
                                       secret_key="schemathesis", testing=True))
    app = create_app(services=services)
    with services.db.transaction() as s:
        tokens = {role: issue_token(s, create_user(s, f"st_{role}", role, None)) for role in ("admin", "ops", "cs")}
    client = app.test_client()
    publish_template(client, tokens, "aftersales_standard")
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    client.post("/api/v1/stock/adjust", json={"sku_id": "TEA-1", "delta": 50, "reason": "inbound"}, headers=headers)
    client.post("/api/v1/machines/aftersales/instances", json={"data": {"order_id": "TB1", "consumer_id": "c"}},
                headers=headers)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per generated request otherwise
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{server.server_port}", "headers": headers}
    server.shutdown()
    services.db.dispose()
    if kind != "sqlite":
        _truncate_all(url)


def _all_checks() -> list[Any]:
    from schemathesis.checks import CHECKS

    return list(CHECKS.get_all())


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_api_keeps_its_document(served: dict[str, Any], mode: str) -> None:
    schema = schemathesis.openapi.from_url(served["base"] + "/api/v1/openapi.json", config=CONFIG)
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    checks = _all_checks()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=generation))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            # Our token stands in for the generated Authorization value; a negative case whose
            # invalid part is the header (left out, or a value of the wrong form) is sent as
            # generated: replacing it would make the case valid while schemathesis still counts
            # it as invalid (GET /instances?overdue=false, a one-item array for `overdue` plus a
            # malformed header, answered 200 and failed the check)
            sent = {k.lower() for k in (case.headers or {})}
            header_is_invalid = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
            replace = mode == "positive" or ("authorization" in sent and not header_is_invalid)
            headers = served["headers"] if replace else None
            case.call_and_validate(base_url=served["base"], headers=headers, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {str(err)[:1500]}")
    assert not failures, "\n\n".join(failures)
