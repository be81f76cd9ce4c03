"""Who sees which personal data of an order: the role matrix and the masking it applies.

Pure functions over the JSON form of orders and timeline changes; no I/O. The matrix
(:data:`MATRIX`) decides per staff role whether the receiver's name, the phones (receiver,
buyer, customer) and the street address are shown in full or masked with
:mod:`engine.masking`, and whether the raw platform payload is shown (full, masked, or not):

=========  ======  ======  ========  ===========
role       name    phone   address   raw payload
=========  ======  ======  ========  ===========
admin      full    full    full      full
warehouse  full    full    full      no   (prints waybills: needs the whole receiver)
cs_lead    full    masked  full      no   (handles address changes)
cs         full    masked  masked    no
ops        masked  masked  masked    masked (fixes mappings)
finance    masked  masked  masked    no
=========  ======  ======  ========  ===========

The platform's cipher texts (``receiver.cipher``) are shown to admin only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.masking import mask_address, mask_data, mask_name, mask_phone

__all__ = ["MATRIX", "Visibility", "mask_changes", "mask_order", "mask_payload", "visibility_for"]


@dataclass(frozen=True)
class Visibility:
    name: bool
    phone: bool
    address: bool
    raw: str  # "full" | "masked" | "none"
    cipher: bool = False


MATRIX: dict[str, Visibility] = {
    "admin": Visibility(name=True, phone=True, address=True, raw="full", cipher=True),
    "warehouse": Visibility(name=True, phone=True, address=True, raw="none"),
    "cs_lead": Visibility(name=True, phone=False, address=True, raw="none"),
    "cs": Visibility(name=True, phone=False, address=False, raw="none"),
    "ops": Visibility(name=False, phone=False, address=False, raw="masked"),
    "finance": Visibility(name=False, phone=False, address=False, raw="none"),
}
_NOTHING = Visibility(name=False, phone=False, address=False, raw="none")


def visibility_for(role: str) -> Visibility:
    return MATRIX.get(role, _NOTHING)


def _phone(value: Any) -> Any:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
        return value
    text = str(value)
    masked = mask_phone(text)
    if masked != text:
        return masked
    digits = [c for c in text if c.isdigit()]
    return "****" + "".join(digits[-4:]) if len(digits) >= 7 else text


def _field_masker(path: str, seen: Visibility) -> Any:
    """The masking function for a field path of the order, or None when it is shown as is."""
    if path in ("receiver.phone", "buyer_phone", "customer.phone") and not seen.phone:
        return _phone
    if path == "receiver.name" and not seen.name:
        return lambda v: mask_name(v) if isinstance(v, str) else v
    if path == "receiver.address" and not seen.address:
        return lambda v: mask_address(v) if isinstance(v, str) else v
    return None


def mask_order(doc: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The JSON form of an order as ``role`` may see it."""
    seen = visibility_for(role)
    out = dict(doc)
    for top in ("buyer_phone",):
        fn = _field_masker(top, seen)
        if fn and top in out:
            out[top] = fn(out[top])
    for part in ("receiver", "customer"):
        sub = out.get(part)
        if isinstance(sub, Mapping):
            sub = dict(sub)
            for key in list(sub):
                fn = _field_masker(f"{part}.{key}", seen)
                if fn:
                    sub[key] = fn(sub[key])
            region = "".join(str(sub.get(k) or "") for k in ("province", "city", "district"))
            if part == "receiver" and not seen.address and sub.get("district") and sub.get("address"):
                sub["address"] = region + "****"  # the cleaned region, never the street
            if part == "receiver" and not seen.cipher:
                sub.pop("cipher", None)
            out[part] = sub
    return out


def mask_changes(changes: list[Mapping[str, Any]], role: str) -> list[dict[str, Any]]:
    """Timeline changes (``{"path", "from", "to"}``) as ``role`` may see them."""
    seen = visibility_for(role)
    out = []
    for change in changes:
        path = str(change.get("path", ""))
        if path.startswith("receiver.cipher") and not seen.cipher:
            out.append({"path": path, "from": None if change.get("from") is None else "****",
                        "to": None if change.get("to") is None else "****"})
            continue
        fn = _field_masker(path, seen)
        out.append({**change, "from": fn(change.get("from")), "to": fn(change.get("to"))} if fn else dict(change))
    return out


def mask_payload(payload: Any, role: str) -> tuple[bool, Any]:
    """``(shown, payload)``: the raw platform payload as ``role`` may see it."""
    raw = visibility_for(role).raw
    if raw == "full":
        return True, payload
    if raw == "masked":
        return True, mask_data(payload)
    return False, None
