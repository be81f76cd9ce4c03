"""Health endpoint and OpenAPI document."""

from __future__ import annotations


def test_healthz_reports_database_and_redis(client, services) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["backend"] == ("sqlite" if services.db.is_sqlite else "postgresql")
    assert body["redis"]["configured"] is (services.settings.redis_url is not None)


def test_openapi_document_is_generated(client) -> None:
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["info"]["title"] == "OrderPulse"
    assert doc["openapi"].startswith("3.")


def test_unknown_api_route_gives_json_error(client) -> None:
    resp = client.get("/api/v1/nope")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
