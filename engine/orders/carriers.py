"""The couriers we ship with and the code each platform's ship API takes for them: the one
carrier × platform table (``engine/orders/data/carriers.json``).

A person (or a WMS) names a courier as they know it — our code (``SF``), its name (顺丰速运) or
a common alias (顺丰); :func:`find_carrier` turns that into a :class:`Carrier`, and
:meth:`Carrier.code_for` gives the platform's own code (Taobao ``company_code``, PDD
``logistics_id``, Doudian ``company_code``, Kuaishou ``expressCode``, Xiaohongshu
``expressCompanyCode``, WeChat ``delivery_id`` for the mini-program). Pure: reads the packaged
table once, no I/O beyond that, nothing of Flask or SQLAlchemy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["Carrier", "UnknownCarrier", "carriers", "find_carrier"]


class UnknownCarrier(LookupError):
    """A courier name no row of the table knows, or a platform a carrier has no code on."""

    def __init__(self, message: str, *, known: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.known = known


@dataclass(frozen=True)
class Carrier:
    """One courier: our code, its Chinese name, the names people also use, and its code on
    each platform (a text or a number, as that platform's API takes it)."""

    code: str
    name: str
    aliases: tuple[str, ...]
    platforms: tuple[tuple[str, str | int], ...]

    def code_for(self, platform: str) -> str | int:
        """The code ``platform``'s ship API takes for this courier."""
        for name, code in self.platforms:
            if name == platform:
                return code
        raise UnknownCarrier(f"{self.name} has no code on platform {platform!r}")


def _carrier(row: dict[str, Any]) -> Carrier:
    return Carrier(code=str(row["code"]), name=str(row["name"]), aliases=tuple(row.get("aliases") or ()),
                   platforms=tuple((str(k), v) for k, v in row["platforms"].items()))


@lru_cache(maxsize=1)
def carriers() -> tuple[Carrier, ...]:
    """Every courier of the table, in its order."""
    text = resources.files("engine.orders").joinpath("data/carriers.json").read_text(encoding="utf-8")
    return tuple(_carrier(row) for row in json.loads(text)["carriers"])


@lru_cache(maxsize=1)
def _by_name() -> dict[str, Carrier]:
    index: dict[str, Carrier] = {}
    for carrier in carriers():
        for name in (carrier.code, carrier.name, *carrier.aliases):
            index.setdefault(name.strip().upper(), carrier)
    return index


def find_carrier(text: str) -> Carrier:
    """The courier ``text`` names (our code, its name or an alias; case and spaces ignored)."""
    found = _by_name().get(str(text).strip().upper())
    if found is None:
        known = tuple(f"{c.code} {c.name}" for c in carriers())
        raise UnknownCarrier(f"unknown courier {text!r}; one of: {', '.join(known)}", known=known)
    return found
