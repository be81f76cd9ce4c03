"""The seams of the workflow area toward the outside: what an encrypted approval callback
(DingTalk's, today) must offer the webhook receiver.

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
