"""DingTalk (钉钉) approval callbacks: signature, AES decryption, the encrypted reply, and a fake
sender that produces exactly what DingTalk sends, for tests and the demo.

The scheme (HTTP event subscription): DingTalk POSTs ``?signature=…&timestamp=…&nonce=…`` with
body ``{"encrypt": "<base64>"}``. The signature is ``sha1_hex("".join(sorted([token, timestamp,
nonce, encrypt])))``. The AES key is ``base64decode(EncodingAESKey + "=")`` (43 chars → 32
bytes); AES-256-CBC with IV = key[:16]; PKCS#7 padding with a **32-byte** block; the plain
text is ``random(16) | len(4, big-endian) | message (UTF-8 JSON) | owner_key`` where the owner
key is the AppKey / corpId / suiteKey. Lengths are counted in UTF-8 bytes (multi-byte text
must survive). This module speaks the protocol only; what an event does is the workflow's job.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from engine.workflow.ports import CallbackRejected

BLOCK = 32

__all__ = ["DingTalkCallbackError", "DingTalkCrypto", "FakeDingTalkApproval", "callback_signature"]


class DingTalkCallbackError(CallbackRejected):
    """A callback that fails verification or decryption; ``reason`` is a stable short code."""


def callback_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, str(timestamp), nonce, encrypt])).encode("utf-8")).hexdigest()


def _pad(data: bytes) -> bytes:
    n = BLOCK - (len(data) % BLOCK)
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    if not data:
        raise DingTalkCallbackError("bad_padding", "empty plain text")
    n = data[-1]
    if n < 1 or n > BLOCK or data[-n:] != bytes([n]) * n:
        raise DingTalkCallbackError("bad_padding", "invalid PKCS#7 padding")
    return data[:-n]


@dataclass(frozen=True)
class DingTalkCrypto:
    """Callback crypto for one subscription: ``token``, ``aes_key`` (the 43-char
    EncodingAESKey) and ``owner_key`` (AppKey, corpId or suiteKey; empty = not checked)."""

    token: str
    aes_key: str
    owner_key: str = ""

    def _key(self) -> bytes:
        try:
            key = base64.b64decode(self.aes_key + "=")
        except (ValueError, TypeError) as exc:
            raise DingTalkCallbackError("bad_key", f"EncodingAESKey is not base64: {exc}") from None
        if len(key) != 32:
            raise DingTalkCallbackError("bad_key", "EncodingAESKey must decode to 32 bytes (43 characters)")
        return key

    def _cipher(self) -> Cipher[modes.CBC]:
        key = self._key()
        return Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        raw = message.encode("utf-8")
        plain = (random16 or secrets.token_bytes(16)) + struct.pack(">I", len(raw)) + raw \
            + self.owner_key.encode("utf-8")
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(_pad(plain)) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> str:
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (ValueError, TypeError):
            raise DingTalkCallbackError("bad_ciphertext", "encrypt is not base64") from None
        if not data or len(data) % 16:
            raise DingTalkCallbackError("bad_ciphertext", "cipher text length is not a multiple of 16")
        dec = self._cipher().decryptor()
        plain = _unpad(dec.update(data) + dec.finalize())
        if len(plain) < 20:
            raise DingTalkCallbackError("bad_ciphertext", "plain text too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, owner = plain[20:20 + length], plain[20 + length:]
        if len(message) != length:
            raise DingTalkCallbackError("bad_ciphertext", "declared length exceeds the message")
        if self.owner_key and owner.decode("utf-8", "replace") != self.owner_key:
            raise DingTalkCallbackError("wrong_owner", "callback was encrypted for another app (owner key mismatch)")
        return message.decode("utf-8")

    def verify(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = callback_signature(self.token, timestamp, nonce, encrypt)
        if not secrets.compare_digest(expected, (signature or "").lower()):
            raise DingTalkCallbackError("bad_signature", "callback signature does not match")

    def open_callback(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """Verify and decrypt a callback request; the event as a dict."""
        signature = query.get("signature") or query.get("msg_signature") or ""
        timestamp = query.get("timestamp") or query.get("timeStamp") or ""
        nonce = query.get("nonce") or ""
        encrypt = body.get("encrypt") if isinstance(body, dict) else None
        if not isinstance(encrypt, str) or not timestamp or not nonce:
            raise DingTalkCallbackError("malformed", "callback needs signature, timestamp, nonce and an encrypt body")
        self.verify(signature, timestamp, nonce, encrypt)
        try:
            event = json.loads(self.decrypt(encrypt))
        except json.JSONDecodeError:
            raise DingTalkCallbackError("bad_ciphertext", "decrypted message is not JSON") from None
        if not isinstance(event, dict):
            raise DingTalkCallbackError("bad_ciphertext", "decrypted message is not a JSON object")
        return event

    def reply(self, timestamp: str, nonce: str | None = None, message: str = "success") -> dict[str, str]:
        """The encrypted answer DingTalk expects (also for ``check_url``)."""
        nonce = nonce or secrets.token_hex(8)
        encrypt = self.encrypt(message)
        return {"msg_signature": callback_signature(self.token, timestamp, nonce, encrypt),
                "timeStamp": str(timestamp), "nonce": nonce, "encrypt": encrypt}


class FakeDingTalkApproval:
    """Builds the callbacks DingTalk would send for an approval (``bpms_instance_change``)."""

    def __init__(self, crypto: DingTalkCrypto, corp_id: str = "ding-corp-test") -> None:
        self.crypto = crypto
        self.corp_id = corp_id

    def approval_event(self, business_id: str, *, result: str = "agree", event_id: str | None = None,
                       process_instance_id: str | None = None, when_ms: int = 1_700_000_000_000) -> dict[str, Any]:
        pid = process_instance_id or "proc-" + secrets.token_hex(6)
        return {"EventType": "bpms_instance_change", "eventId": event_id or secrets.token_hex(12),
                "BizId": pid + ":finish", "processInstanceId": pid, "processCode": "PROC-REFUND",
                "CorpId": self.corp_id, "businessId": business_id, "title": "退款审批",
                "type": "finish", "result": result, "staffId": "finance01",
                "createTime": when_ms - 60_000, "finishTime": when_ms}

    def request(self, event: dict[str, Any], *, timestamp_ms: int, nonce: str | None = None,
                tamper: bool = False) -> tuple[dict[str, str], dict[str, str]]:
        """(query parameters, JSON body) of the callback POST for ``event``."""
        nonce = nonce or secrets.token_hex(6)
        encrypt = self.crypto.encrypt(json.dumps(event, ensure_ascii=False))
        signature = callback_signature(self.crypto.token, str(timestamp_ms), nonce, encrypt)
        if tamper:
            signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        return {"signature": signature, "timestamp": str(timestamp_ms), "nonce": nonce}, {"encrypt": encrypt}
