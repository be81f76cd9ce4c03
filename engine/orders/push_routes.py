"""``POST /api/v1/sources/{source}/push``: a platform's order push (no token: the platform's
signature is checked by the source's order client; see :mod:`engine.orders.push`)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from engine.auth.access import public
from engine.orders.push import MAX_PUSH_BYTES, receive_push

blp = Blueprint("order_push", __name__, url_prefix="/sources",
                description="Platform order pushes (signature checked per platform)")


@blp.route("/<source>/push", methods=["POST"])
@public
def push(source: str) -> Any:
    """A platform's push message for SOURCE: verified with the platform's signature, kept once
    by message id, acknowledged at once; the order is fetched and stored afterwards."""
    if (request.content_length or 0) > MAX_PUSH_BYTES:
        return {"error": {"code": "too_large", "message": f"push body over {MAX_PUSH_BYTES} bytes",
                          "details": []}}, 413
    answer = receive_push(current_app.extensions["orderpulse"], source, dict(request.headers),
                          request.get_data(cache=False))
    return answer.body, answer.status
