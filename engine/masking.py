"""Masking of personal data (phone numbers, street addresses) for logs and for roles that
do not need them. Pure functions; no I/O.

``13812340000`` → ``138****0000``; ``浙江省杭州市西湖区文三路90号`` → ``浙江省杭州市西湖区****``.
"""

from __future__ import annotations

import re
from typing import Any

_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_REGION = r"(?:[\u4e00-\u9fa5]{2,8}?(?:省|自治区|特别行政区))?(?:[\u4e00-\u9fa5]{2,8}?(?:市|自治州|地区|盟))?[\u4e00-\u9fa5]{1,8}?(?:区|县|市|旗)"
_ADDRESS = re.compile(rf"({_REGION})([^\s,，;；\"'\]\}}]{{2,}})")
_REGION_ONLY = re.compile(rf"^{_REGION}")

SENSITIVE_PHONE_KEYS = ("phone", "mobile", "tel", "post_tel", "receiver_phone", "buyer_phone")
SENSITIVE_ADDRESS_KEYS = ("address", "addr", "detail", "post_addr", "street")
# Keys of a person's name in platform payloads (Taobao receiver_name, Douyin post_receiver, ...).
SENSITIVE_NAME_KEYS = ("receiver_name", "post_receiver", "buyer_name", "consignee", "receiver", "buyer_nick")


def mask_phone(value: str) -> str:
    """Mask every mainland mobile number in ``value`` as ``138****0000``."""
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", value)


def mask_name(value: str) -> str:
    """Keep a person's first character: ``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``."""
    value = value.strip()
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


def mask_address(value: str) -> str:
    """Keep the region (province, city, district), hide the street and number."""
    value = value.strip()
    region = _REGION_ONLY.match(value)
    if region and region.end() < len(value):
        return value[: region.end()] + "****"
    if region:
        return value
    return value[:2] + "****" if len(value) > 2 else "****"


def mask_text(value: str) -> str:
    """Mask phones and addresses found anywhere inside free text."""
    value = mask_phone(value)
    return _ADDRESS.sub(lambda m: m.group(1) + "****", value)


def mask_data(value: Any, key: str = "") -> Any:
    """Recursively mask a JSON-like structure: sensitive keys fully, free text by pattern."""
    lowered = key.lower()
    if isinstance(value, dict):
        return {k: mask_data(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and any(lowered.endswith(k) for k in SENSITIVE_PHONE_KEYS):
        # Platforms send phones as numbers too (``"post_tel": 13812345678``).
        return mask_data(str(value), key)
    if isinstance(value, str):
        if any(lowered.endswith(k) for k in SENSITIVE_PHONE_KEYS):
            masked = mask_phone(value)
            return masked if masked != value else ("****" if value else value)
        if any(lowered.endswith(k) for k in SENSITIVE_ADDRESS_KEYS):
            return mask_address(value)
        if any(lowered.endswith(k) for k in SENSITIVE_NAME_KEYS):
            return mask_name(value)
        return mask_text(value)
    return value
