"""``GET /healthz``: database and Redis reachability."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from engine.auth.access import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz() -> Any:
    services = current_app.extensions["orderpulse"]
    db_ok = services.db.ping()
    redis_state = services.redis_ok()
    ok = db_ok and redis_state is not False
    body = {
        "status": "ok" if ok else "degraded",
        "database": {"ok": db_ok, "backend": "sqlite" if services.db.is_sqlite else "postgresql"},
        "redis": {"configured": redis_state is not None, "ok": bool(redis_state)},
    }
    return jsonify(body), 200 if ok else 503
