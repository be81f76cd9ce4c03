"""The seams of the workflow area toward the outside: what an encrypted approval callback
(DingTalk's, today) must offer the webhook receiver, and the hand-over of a pressed action to
another area that carries it out (:class:`ActionHandover`; the workflow imports no other area).

Types and protocols only (no I/O, no Flask, no SQLAlchemy, no connector import). A connector
implements :class:`CallbackCrypto` and raises :class:`CallbackRejected`; the composition root
(:meth:`engine.services.Services.build`) hands a :data:`CallbackCryptoFactory` per hook type to
the engine through ``Services.ports``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class CallbackRejected(Exception):
    """A callback that fails verification or decryption; ``reason`` is a stable short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class CallbackCrypto(Protocol):
    """One subscription's callback crypto: open a signed, encrypted callback; sign the reply."""

    def open_callback(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """The decrypted event; raises :class:`CallbackRejected`."""
        ...

    def reply(self, timestamp: str, nonce: str | None = None, message: str = "success") -> dict[str, str]:
        """The encrypted, signed acknowledgement the sender expects."""
        ...


# (token, aes_key, owner_key) -> the crypto of one hook declaration
CallbackCryptoFactory = Callable[[str, str, str], CallbackCrypto]


class ActionCarrier(Protocol):
    """Carries out one pressed action of a ticket in place of the workflow's own step (its own
    transactions; it fires the action itself, once, with the same checks and key). Returns
    the ticket as :func:`engine.workflow.service.fire_action` would; raises its refusals."""

    def __call__(self, payload: dict[str, Any], *, actor: str, role: str | None,
                 idempotency_key: str | None) -> dict[str, Any]: ...


class ActionHandover(Protocol):
    """Another area's claim on some actions of some tickets (e.g. the order ticket's 发货, which
    ships the order): given the open session, the services, the loaded ticket and the action a
    person pressed, the carrier that takes it over, or None to let the workflow fire it. Must
    only read. The composition root lists them on ``Services.action_handovers``."""

    def __call__(self, session: Any, services: Any, ticket: Any, action: str) -> ActionCarrier | None: ...
