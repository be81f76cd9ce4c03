"""The staff roles and the outside parties, with their Chinese names.

Owns the vocabulary only; who may call what is declared on each route (see auth.access).
"""

from __future__ import annotations

STAFF_ROLES: dict[str, str] = {
    "admin": "管理员",
    "ops": "运营",
    "warehouse": "仓储",
    "finance": "财务",
    "cs": "客服",
    "cs_lead": "客服组长",
}

OUTSIDE_PARTIES: dict[str, str] = {"consumer": "消费者", "platform": "平台"}

_BY_CHINESE = {zh: en for en, zh in {**STAFF_ROLES, **OUTSIDE_PARTIES}.items()}

ALL_STAFF: tuple[str, ...] = tuple(STAFF_ROLES)


def normalize_role(name: str) -> str | None:
    """English code for a role or party written in English or Chinese; None if unknown."""
    name = name.strip()
    if name in STAFF_ROLES or name in OUTSIDE_PARTIES:
        return name
    return _BY_CHINESE.get(name)


def role_label(code: str) -> str:
    return STAFF_ROLES.get(code) or OUTSIDE_PARTIES.get(code) or code
