"""The JSON form of a ruleset: model → JSON-ready dict, and JSON → model.

This module owns the JSON encoding (``{"kind": "ruleset", "declarations": [...]}``; every
member of a tagged union carries ``"kind"``; defaults are omitted) and loading it back, first
validating against the bundle schema so every error carries the JSON pointer of the bad value.
All problems are collected and raised together as one :class:`dsl.errors.RuleError`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from . import model as m
from .errors import Diagnostic, RuleError
from .introspect import DECLARATION_CLASSES, fields_of, union_members

__all__ = ["to_json", "load_json", "node_to_json", "bundle_schema", "MAX_JSON_DEPTH"]

MAX_JSON_DEPTH = 200
SCHEMA_DIR = Path(__file__).with_name("schemas")


# --------------------------------------------------------------------------- encode


def _value_to_json(spec_origin: str, value: Any) -> Any:
    if spec_origin in ("node", "union"):
        return node_to_json(value, tagged=spec_origin == "union")
    return value


def node_to_json(node: m.Node, tagged: bool = True) -> dict[str, Any]:
    """One node as a JSON-ready dict (``kind`` first when ``tagged``)."""
    out: dict[str, Any] = {"kind": node.kind} if tagged else {}
    node_class: type = node.__class__  # a class (hashable), not an instance
    for spec in fields_of(node_class):
        value = getattr(node, spec.name)
        if not spec.required and value == spec.default:
            continue
        if spec.origin == "tuple":
            out[spec.name] = [_value_to_json(spec.item_origin, v) for v in value]
        else:
            out[spec.name] = _value_to_json(spec.origin, value)
    return out


def to_json(ruleset: m.Ruleset) -> dict[str, Any]:
    """The JSON form of a ruleset (a dict ready for ``json.dumps``)."""
    return {"kind": "ruleset",
            "declarations": [node_to_json(d) for d in ruleset.declarations]}


# --------------------------------------------------------------------------- decode


@lru_cache(maxsize=1)
def bundle_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (SCHEMA_DIR / "ruleset.schema.json").read_text(encoding="utf-8"))
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(bundle_schema())


def _pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""


def _depth_ok(obj: Any) -> bool:
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return True


def _schema_message(error: Any) -> str:
    validator = error.validator
    if validator == "required":
        return str(error.message).replace("is a required property", "is required")
    if validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, got {json.dumps(error.instance, ensure_ascii=False)}"
    if validator in ("enum", "const"):
        allowed = error.validator_value if validator == "enum" else [error.validator_value]
        return (f"{json.dumps(error.instance, ensure_ascii=False)} is not one of "
                f"{', '.join(json.dumps(a, ensure_ascii=False) for a in allowed)}")
    if validator == "additionalProperties":
        return str(error.message)
    if validator == "pattern":
        return f"{json.dumps(error.instance, ensure_ascii=False)} is not a valid name"
    return str(error.message)


def _leaf_errors(error: Any) -> list[Any]:
    if error.context:
        leaves: list[Any] = []
        for sub in error.context:
            leaves.extend(_leaf_errors(sub))
        return leaves
    return [error]


def _decode_value(spec_origin: str, classes: tuple[type, ...], value: Any, pointer: str) -> Any:
    if spec_origin == "node":
        return _decode_node(classes[0], value, pointer)
    if spec_origin == "union":
        cls = union_members(classes)[value["kind"]]
        return _decode_node(cls, value, pointer)
    return value


def _decode_node(cls: type, obj: dict[str, Any], pointer: str) -> Any:
    kwargs: dict[str, Any] = {}
    locs: list[tuple[str, tuple[m.Loc, ...]]] = []
    for spec in fields_of(cls):
        if spec.name not in obj:
            continue
        value = obj[spec.name]
        here = f"{pointer}/{spec.name}"
        if spec.origin == "tuple":
            kwargs[spec.name] = tuple(
                _decode_value(spec.item_origin, spec.classes, v, f"{here}/{i}")
                for i, v in enumerate(value))
            if spec.item_origin == "str":
                locs.append((spec.name, tuple(m.Loc(pointer=f"{here}/{i}")
                                              for i in range(len(value)))))
        else:
            kwargs[spec.name] = _decode_value(spec.origin, spec.classes, value, here)
            if spec.origin == "str":
                locs.append((spec.name, (m.Loc(pointer=here),)))
    return cls(**kwargs, pointer=pointer, locs=tuple(locs))


def load_json(source: str | bytes | dict[str, Any], filename: str = "<json>") -> m.Ruleset:
    """Load a ruleset from its JSON form (text or an already-decoded object).

    Raises :class:`RuleError` listing every schema violation with its JSON pointer."""
    if isinstance(source, (str, bytes)):
        try:
            obj = json.loads(source)
        except json.JSONDecodeError as exc:
            text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
            raise RuleError.at(filename, text, exc.lineno, exc.colno,
                               f"invalid JSON: {exc.msg}", code="json") from None
        except RecursionError:
            raise RuleError(Diagnostic(filename, 0, 0, "JSON nests too deeply",
                                       code="limit")) from None
        except UnicodeDecodeError:
            raise RuleError(Diagnostic(filename, 0, 0, "JSON is not UTF-8",
                                       code="json")) from None
    else:
        obj = source
    if not _depth_ok(obj):
        raise RuleError(Diagnostic(filename, 0, 0,
                                   f"JSON nests deeper than {MAX_JSON_DEPTH} levels",
                                   code="limit"))
    errors = []
    for error in _validator().iter_errors(obj):
        for leaf in _leaf_errors(error):
            errors.append(leaf)
    if errors:
        seen: set[tuple[str, str]] = set()
        diagnostics = []
        for e in sorted(errors, key=lambda e: (_pointer(e.absolute_path), str(e.message))):
            pointer = _pointer(e.absolute_path)
            message = _schema_message(e)
            if (pointer, message) in seen:
                continue
            seen.add((pointer, message))
            diagnostics.append(Diagnostic(filename, 0, 0, message, pointer=pointer or "/",
                                          code="schema"))
        raise RuleError(diagnostics)
    declarations = []
    for i, d in enumerate(obj["declarations"]):
        cls = union_members(DECLARATION_CLASSES)[d["kind"]]
        declarations.append(_decode_node(cls, d, f"/declarations/{i}"))
    return m.Ruleset(tuple(declarations), filename=filename, text="")
