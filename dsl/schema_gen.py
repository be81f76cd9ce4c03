"""JSON Schemas (draft 2020-12) for the JSON form, derived from the declaration model.

This module owns building one schema per declaration kind and the ruleset bundle, and writing
them to ``dsl/schemas/`` (``python -m dsl.schema_gen``). The committed files are the contract;
a test keeps them equal to what this module derives. Tagged unions use ``kind`` with
``if``/``then`` branches so a bad value is reported at its own JSON pointer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import model as m
from .introspect import DECLARATION_CLASSES, ENUMS, FREE_TEXT, FieldSpec, fields_of, kind_of

__all__ = ["declaration_schema", "bundle_schema_document", "write_schemas", "SCHEMA_DIR"]

SCHEMA_DIR = Path(__file__).with_name("schemas")
BASE_ID = "https://orderpulse.dev/schemas/"
MAX_INT = 10**17
NAME_PATTERN = r"^[^\W\d]\w*$"


def _ref(cls: type) -> dict[str, str]:
    return {"$ref": f"#/$defs/{kind_of(cls)}"}


def _union(classes: tuple[type, ...]) -> dict[str, Any]:
    kinds = [kind_of(c) for c in classes]
    return {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": kinds}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind_of(c)}}, "required": ["kind"]},
                   "then": _ref(c)} for c in classes],
    }


def _scalar(kind: str, spec_name: str, origin: str) -> dict[str, Any]:
    if (kind, spec_name) in ENUMS:
        return {"enum": list(ENUMS[(kind, spec_name)])}
    if origin == "str":
        if (kind, spec_name) in FREE_TEXT:
            return {"type": "string"}
        return {"type": "string", "pattern": NAME_PATTERN}
    if origin == "int":
        return {"type": "integer", "minimum": 0, "maximum": MAX_INT}
    if origin == "bool":
        return {"type": "boolean"}
    return {}


def _field_schema(cls: type, spec: FieldSpec) -> dict[str, Any]:
    if spec.origin == "tuple":
        if spec.item_origin == "node":
            items: dict[str, Any] = _ref(spec.classes[0])
        elif spec.item_origin == "union":
            items = _union(spec.classes)
        else:
            items = _scalar(kind_of(cls), spec.name, spec.item_origin)
        return {"type": "array", "items": items}
    if spec.origin == "node":
        return _ref(spec.classes[0])
    if spec.origin == "union":
        return _union(spec.classes)
    return _scalar(kind_of(cls), spec.name, spec.origin)


def _class_schema(cls: type, tagged: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"kind": {"const": kind_of(cls)}}
    required = [s.name for s in fields_of(cls) if s.required]
    for spec in fields_of(cls):
        props[spec.name] = _field_schema(cls, spec)
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": False}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):  # not dataclass's own
        schema["description"] = " ".join(cls.__doc__.split())
    if required:
        schema["required"] = required
    if cls is m.Literal:
        schema["allOf"] = [
            {"if": {"properties": {"unit": {"const": m.TEXT}}},
             "then": {"properties": {"value": {"type": "string"}}}},
            {"if": {"properties": {"unit": {"const": m.BOOL}}},
             "then": {"properties": {"value": {"type": "boolean"}}}},
            {"if": {"properties": {"unit": {"enum": [m.MONEY, m.PERCENT, m.DURATION, m.COUNT]}}},
             "then": {"properties": {"value": {"type": "integer", "minimum": 0,
                                               "maximum": MAX_INT}}}},
        ]
        props["value"] = {"type": ["string", "integer", "boolean"]}
    del tagged
    return schema


def _reachable(root: type) -> list[type]:
    seen: dict[str, type] = {}
    stack = [root]
    while stack:
        cls = stack.pop()
        if kind_of(cls) in seen:
            continue
        seen[kind_of(cls)] = cls
        for spec in fields_of(cls):
            stack.extend(c for c in spec.classes if isinstance(c, type) and issubclass(c, m.Node))
    return sorted(seen.values(), key=lambda c: kind_of(c))


def declaration_schema(cls: type) -> dict[str, Any]:
    """The standalone schema of one declaration kind (e.g. ``promotion``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_ID}{kind_of(cls)}.schema.json",
        "title": f"OrderPulse {kind_of(cls)} declaration",
        "$ref": f"#/$defs/{kind_of(cls)}",
        "$defs": {kind_of(c): _class_schema(c, True) for c in _reachable(cls)},
    }


def bundle_schema_document() -> dict[str, Any]:
    """The schema of a whole ruleset: ``{"kind": "ruleset", "declarations": [...]}``."""
    defs: dict[str, Any] = {}
    for decl in DECLARATION_CLASSES:
        for c in _reachable(decl):
            defs[kind_of(c)] = _class_schema(c, True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_ID}ruleset.schema.json",
        "title": "OrderPulse ruleset",
        "type": "object",
        "required": ["declarations"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": "ruleset"},
            "declarations": {"type": "array", "items": _union(DECLARATION_CLASSES)},
        },
        "$defs": dict(sorted(defs.items())),
    }


def all_documents() -> dict[str, dict[str, Any]]:
    docs = {f"{kind_of(cls)}.schema.json": declaration_schema(cls) for cls in DECLARATION_CLASSES}
    docs["ruleset.schema.json"] = bundle_schema_document()
    return docs


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, doc in all_documents().items():
        path = directory / filename
        path.write_text(render(doc), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in write_schemas():
        sys.stdout.write(f"{p.name}\n")
