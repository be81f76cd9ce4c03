"""``POST /api/v1/sources/{source}/push``: a platform's order push (no token: the platform's
signature is checked by the source's order client; see :mod:`engine.orders.push`).

The body is taken as raw bytes (``@body_kind("hook")``: the shared request guard limits its
size and leaves it unparsed), because each platform signs or encrypts the bytes it sent — a
Kuaishou push is AES ciphertext, not JSON.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from engine.api.openapi import success
from engine.api.request_guard import body_kind
from engine.auth.access import public
from engine.orders.push import receive_push

blp = Blueprint("order_push", __name__, url_prefix="/sources",
                description="Platform order pushes (signature checked per platform)")


@blp.route("/<source>/push", methods=["POST"])
@public
@body_kind("hook")  # raw bytes: the platform's signature is checked before the body is parsed
@blp.doc(**success("the platform's acknowledgement (e.g. {\"code\": 0, \"msg\": \"success\"})"),
         requestBody={"required": True, "content": {
             "application/json": {"schema": {
                 "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                 "description": "the platform's signed message (Douyin: an array of messages)"}},
             "text/plain": {"schema": {"type": "string", "description": "Kuaishou: base64 AES ciphertext"}}}})
@blp.alt_response(400, description="push_refused: the verified body is not the platform's message shape")
@blp.alt_response(401, description="push_refused: signature, key or timestamp does not verify")
@blp.alt_response(403, description="push_refused: the message is for another app or shop")
@blp.alt_response(404, description="not_found: no published source of that name, or its platform does not push")
def push(source: str) -> Any:
    """A platform's push message for SOURCE: verified with the platform's signature, kept once
    by message id, acknowledged at once; the order is fetched and stored afterwards."""
    answer = receive_push(current_app.extensions["orderpulse"], source, dict(request.headers),
                          request.get_data(cache=False))
    return answer.body, answer.status
