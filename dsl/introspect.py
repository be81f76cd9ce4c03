"""Type-hint introspection of the declaration model, shared by the JSON codec and schemas.

This module owns the description of each model class as JSON-facing fields: which fields are
required, which are tagged unions (carrying ``"kind"``), which strings are identifiers, and
which take a fixed vocabulary. It performs no I/O and knows nothing about DSL text.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

from . import model as m

__all__ = ["FieldSpec", "fields_of", "union_members", "KIND_TO_CLASS", "DECLARATION_CLASSES",
           "IDENTIFIER", "ENUMS", "FREE_TEXT"]

IDENTIFIER = re.compile(r"^[^\W\d]\w*$")

DECLARATION_CLASSES: tuple[type, ...] = typing.get_args(m.Declaration)

# str fields that hold free text rather than an identifier
FREE_TEXT: set[tuple[str, str]] = {
    ("source", "title"), ("promotion", "title"), ("tier", "title"), ("machine", "title"),
    ("rule", "name"), ("gift", "name"), ("gift_item", "sku"), ("notify", "message"),
    ("risk", "flag"), ("tag_exclusion", "tag"), ("rule_conflict", "first"),
    ("rule_conflict", "second"), ("region_freight", "regions"),
}

# fixed vocabularies (field of a kind → allowed values)
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("literal", "unit"): m.UNITS,
    ("compare", "op"): ("==", "!=", "<", "<=", ">", ">="),
    ("boolop", "op"): ("and", "or"),
    ("arith", "op"): ("+", "-", "*", "/"),
    ("aggregate", "func"): ("count", "distinct", "sum", "avg", "min", "max"),
    ("aggregate", "collection"): ("orders", "order_lines", "returns", "tickets", "shipments", "stock"),
    ("tier", "pick"): ("best", "first", "all"),
    ("tier", "funded_by"): ("merchant", "platform"),
    ("rule", "funded_by"): ("merchant", "platform"),
    ("amount_off", "split_by"): ("amount",),
    ("every_off", "split_by"): ("amount",),
    ("measure", "period"): ("hour", "day", "week", "month"),
    ("normalize", "to"): ("region", "phone", "text"),
    ("data_field", "type"): ("text", "money", "count", "bool", "time", "duration", "percent"),
    ("follow", "subject"): ("orders", "refunds"),
    ("ship_warning", "due"): ("promised_ship_at", "presale_ship_by"),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    required: bool
    default: Any
    origin: str  # "node" | "union" | "tuple" | "str" | "int" | "bool" | "scalar"
    classes: tuple[type, ...] = ()  # node classes for node/union, or element classes for tuple
    item_origin: str = ""  # for tuple: "node" | "union" | "str" | "int"


def _strip_optional(tp: Any) -> Any:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType) and type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        return rest[0] if len(rest) == 1 else Union[rest]
    return tp


def _classify(tp: Any) -> tuple[str, tuple[type, ...]]:
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if all(isinstance(a, type) and issubclass(a, m.Node) for a in args):
            return "union", tuple(args)
        return "scalar", tuple(args)
    if isinstance(tp, type) and issubclass(tp, m.Node):
        return "node", (tp,)
    if tp is str:
        return "str", ()
    if tp is bool:
        return "bool", ()
    if tp is int:
        return "int", ()
    raise TypeError(f"unsupported field type {tp!r}")


@lru_cache(maxsize=None)
def fields_of(cls: type) -> tuple[FieldSpec, ...]:
    hints = typing.get_type_hints(cls, vars(m))
    specs = []
    for f in dataclasses.fields(cls):
        if f.name in ("line", "col", "pointer", "locs", "filename", "text"):
            continue
        tp = hints[f.name]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else f.default
        if typing.get_origin(tp) is tuple:
            item = typing.get_args(tp)[0]
            item_origin, classes = _classify(item)
            specs.append(FieldSpec(f.name, required, default, "tuple", classes, item_origin))
        else:
            origin, classes = _classify(tp)
            specs.append(FieldSpec(f.name, required, default, origin, classes))
    return tuple(specs)


def kind_of(cls: type) -> str:
    """The ``kind`` tag of a node class (field specs hold node classes as plain types)."""
    return typing.cast(type[m.Node], cls).kind


def union_members(classes: tuple[type, ...]) -> dict[str, type]:
    return {kind_of(c): c for c in classes}


def _all_classes() -> dict[str, type]:
    out: dict[str, type] = {}
    for name in m.__all__:
        obj = getattr(m, name)
        if isinstance(obj, type) and issubclass(obj, m.Node) and obj is not m.Node:
            out[obj.kind] = obj
    return out


KIND_TO_CLASS: dict[str, type] = _all_classes()
