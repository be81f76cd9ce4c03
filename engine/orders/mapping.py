"""Runs ``mapping`` declarations: one platform payload → one normalized order.

This module owns :func:`compile_mapping` (a checked :class:`dsl.model.MappingDecl` → a
:class:`CompiledMapping` whose ``apply`` maps one payload) and :class:`MappingFailure`, the
only error ``apply`` raises: a payload that does not fit is refused with the payload path and
the mapping line, e.g. ``$.orders.order[1].price: "abc" is not a yuan amount (mapping taobao,
line 12)``. It is pure: no Flask, no SQLAlchemy, no I/O.

How a mapping runs. Like :mod:`dsl.compiler`, Python source is generated from the checked
model only (payload names become ``dict.get`` calls or lenient path reads, functions come from
the whitelist, map tables become constant dicts) and compiled once per mapping; user text is
never ``eval``-ed. Each target is coerced to its type in the order model (text, fen, count,
aware UTC time, status …): a value of the wrong kind is refused, never guessed — money must
come out of ``yuan()``/``fen()`` as integer fen, times out of ``from_shanghai()``/
``from_unix()``/``from_unix_ms()``. ``order_id``, ``status``, ``created_at``, ``updated_at``,
``lines`` and each line's ``sku_id`` and ``qty`` may not be missing when the mapping maps them.
A line whose ``amount`` is not mapped gets ``unit_price × qty``. ``channel`` is the mapping's
own ``channel = "…"`` if it has one, else its source's platform. What each target type accepts,
and the helpers the generated code calls, live in :mod:`engine.orders.mapping_runtime`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dsl import model as m
from dsl import order_model as om
from dsl.checker import _Checker, expression_children
from dsl.compiler import FUNCTION_IMPLS, ExpressionGenerator, map_table_lookup
from dsl.typing import RAW_SCOPE

from . import mapping_runtime as rt
from .mapping_runtime import COERCE, NO_DEFAULT, FieldError, Site, format_path
from .ports import NormalizedOrder

__all__ = ["CompiledMapping", "MappingFailure", "compile_mapping", "compile_ruleset_mappings",
           "format_path"]

#: functions whose refusal of a value is a refusal of the payload (the rest read leniently)
_STRICT = frozenset({"yuan", "fen", "from_unix", "from_unix_ms", "from_shanghai", "from_iso",
                     "to_int"})
#: text functions that give None for a missing value instead of the text "None"
_TEXT_FUNCS = frozenset({"lower", "upper", "trim", "mask_phone"})
#: (block, target) pairs that may not be missing when mapped
_REQUIRED = frozenset({("", "order_id"), ("", "status"), ("", "created_at"), ("", "updated_at"),
                       ("", "lines"), ("lines.", "sku_id"), ("lines.", "qty"),
                       ("refunds.", "refund_id")})


class MappingFailure(Exception):
    """A payload the mapping cannot map. ``path`` is where in the payload
    (``$.orders.order[1].price``), ``line``/``col`` the mapping line (0 for a mapping loaded
    from JSON, then ``pointer`` says where), ``message`` why."""

    def __init__(self, *, mapping: str, line: int, col: int, path: str, message: str,
                 pointer: str = "") -> None:
        self.mapping = mapping
        self.line = line
        self.col = col
        self.path = path
        self.message = message
        self.pointer = pointer
        where = f"line {line}" if line else (pointer or "no position")
        super().__init__(f"{path}: {message} (mapping {mapping}, {where})")


# --------------------------------------------------------------------------- code generation


def _first_name(expr: m.Expr) -> m.Name | None:
    if isinstance(expr, m.Name):
        return expr
    for child in expression_children(expr):
        found = _first_name(child)
        if found is not None:
            return found
    return None


def _target_type(tree: om.FieldTree, target: tuple[str, ...]) -> str:
    node: om.FieldTree | str = tree
    for seg in target:
        if not isinstance(node, dict) or seg not in node:
            return "any"
        node = node[seg]
    if isinstance(node, str):
        return node
    return "list:object" if "[]" in node else "object"


class _MappingGenerator(ExpressionGenerator):
    """Mapping values → Python source over a payload object held in ``self.base``."""

    def __init__(self, owner: _MappingCompiler) -> None:
        super().__init__("raw", RAW_SCOPE, _Checker(m.Ruleset(())), {})
        self.owner = owner
        self.consts = owner.consts
        self.base = "o"
        self.line = 0
        self.col = 0
        self.pointer = ""

    def site(self, expr: m.Expr | None) -> str:
        name = _first_name(expr) if expr is not None else None
        segments: tuple[str, ...] = name.path if name is not None else ()
        return self.const(Site(segments, self.line, self.col, self.pointer))

    def name(self, n: m.Name) -> str:
        if len(n.path) == 1:
            return f"{self.base}.get({n.path[0]!r})"
        return f"L({self.base}, {self.const(n.path)})"

    def expr(self, e: m.Expr) -> str:
        if isinstance(e, m.Call) and e.func in _STRICT and len(e.args) == 1:
            fn = self.const(FUNCTION_IMPLS[e.func])
            return f"C({fn}, {self.expr(e.args[0])}, {self.site(e.args[0])}, {e.func!r})"
        if isinstance(e, m.Call) and e.func in _TEXT_FUNCS:
            fn = self.const(FUNCTION_IMPLS[e.func])
            return f"TX({fn}, {', '.join(self.expr(a) for a in e.args)})"
        if isinstance(e, m.MapTable):
            table = self.const(map_table_lookup(e))
            default = self.const(NO_DEFAULT if e.default is None else e.default.value)
            return f"MC({table}, {self.expr(e.source)}, {default}, {self.site(e.source)})"
        if isinstance(e, m.Each):
            return self.owner.each(e, self)
        return str(super().expr(e))


class _MappingCompiler:
    def __init__(self, decl: m.MappingDecl, channel: str | None) -> None:
        self.decl = decl
        self.channel = channel
        self.consts: dict[str, Any] = {}
        self.functions: list[str] = []
        self.blocks = 0

    def const(self, value: Any) -> str:
        name = f"K{len(self.consts)}"
        self.consts[name] = value
        return name

    def block(self, fields: tuple[m.FieldMapping, ...], tree: om.FieldTree, inside: str,
              base: str, extra: list[tuple[tuple[str, ...], str]]) -> list[str]:
        """Statements computing every field of one block into locals, then ``return {…}``."""
        gen = _MappingGenerator(self)
        gen.base = base
        lines = ["    s = 0", "    try:"]
        sites: list[str] = []
        values: list[tuple[tuple[str, ...], str]] = []
        for i, f in enumerate(fields):
            gen.line, gen.col, gen.pointer = f.line, f.col, f.pointer
            target_type = _target_type(tree, f.target)
            target: tuple[str, ...] = f.target
            if inside == "lines." and f.target == ("price",):
                target_type = "money"
                target = ("unit_price",)
            dotted = ".".join(target)
            if not inside and dotted == "status":
                coerce = rt.as_status
            elif not inside and dotted == "channel":
                coerce = rt.as_channel
            else:
                coerce = COERCE.get(target_type, rt.as_anything)
            required = (inside, dotted) in _REQUIRED
            site = gen.site(f.value.source if isinstance(f.value, m.Each) else f.value)
            sites.append(site)
            code = gen.expr(f.value)
            lines.append(f"        s = {i}")
            lines.append(f"        v{i} = {self.const(coerce)}({code}, {site}, {required!r})")
            values.append((target, f"v{i}"))
        if not fields:
            lines.append("        pass")
        lines.append("    except FE:")
        lines.append("        raise")
        lines.append("    except Exception as exc:")
        lines.append(f"        raise UX(exc, {self.const(tuple(sites)) if sites else 'None'}[s])")
        values += extra
        lines.append(f"    d = {_dict_display(values)}")
        return lines

    def each(self, e: m.Each, outer: _MappingGenerator) -> str:
        """A function per ``each`` block (element → dict), and the call that runs it."""
        n = self.blocks
        self.blocks += 1  # numbered before the body is compiled, so an inner block gets its own
        inside = self._inside_of(e)
        tree = self._element_tree(inside)
        body = self.block(e.fields, tree, inside, "x", [])
        if inside == "lines." and not any(f.target == ("amount",) for f in e.fields):
            body += ["    up, q = d.get('unit_price'), d.get('qty')",
                     "    if up is not None and q is not None:",
                     "        d['amount'] = up * q"]
        self.functions.append("\n".join([f"def each_{n}(x):", *body, "    return d"]))
        keep = "None"
        if e.where is not None:
            inner = _MappingGenerator(self)
            inner.base = "x"
            inner.line, inner.col, inner.pointer = e.line, e.col, e.pointer
            site = inner.site(e.where)
            self.functions.append("\n".join([
                f"def keep_{n}(x):",
                "    try:",
                f"        return bool({inner.expr(e.where)})",
                "    except FE:",
                "        raise",
                "    except Exception as exc:",
                f"        raise UX(exc, {site})"]))
            keep = f"keep_{n}"
        if e.source.path == ("self",):
            return f"ES({outer.base}, each_{n}, {keep}, {outer.const(Site((), e.line, e.col, e.pointer))})"
        return f"E({outer.expr(e.source)}, each_{n}, {keep}, {outer.site(e.source)})"

    def _inside_of(self, e: m.Each) -> str:
        for f in self.decl.fields:
            if f.value is e:
                return ".".join(f.target) + "."
        return "?."

    @staticmethod
    def _element_tree(inside: str) -> om.FieldTree:
        node: Any = om.ORDER_FIELDS
        for seg in inside.rstrip(".").split("."):
            node = node.get(seg) if isinstance(node, dict) else None
        element = node.get("[]") if isinstance(node, dict) else None
        return element if isinstance(element, dict) else {}

    def compile(self) -> tuple[Callable[[Any], NormalizedOrder], str]:
        """The mapping as one Python function, and the source it was compiled from."""
        extra: list[tuple[tuple[str, ...], str]] = []
        if self.channel is not None and not any(f.target == ("channel",) for f in self.decl.fields):
            extra.append((("channel",), self.const(self.channel)))
        body = self.block(self.decl.fields, om.ORDER_FIELDS, "", "o", extra)
        root = self.const(Site((), self.decl.line, self.decl.col, self.decl.pointer))
        source = "\n\n".join([
            *self.functions,
            "\n".join(["def apply(o):",
                       "    if type(o) is not dict:",
                       "        if not isinstance(o, Mapping):",
                       f"            raise FE({root}, 'the payload is not a JSON object')",
                       "        o = dict(o)",
                       *body, "    return d"])]) + "\n"
        namespace: dict[str, Any] = {
            "__builtins__": {"Exception": Exception, "isinstance": isinstance, "type": type,
                             "dict": dict, "bool": bool, "frozenset": frozenset},
            "Mapping": Mapping, "FE": FieldError, "UX": rt.unexpected, "C": rt.convert,
            "TX": rt.text_call, "MC": rt.map_code, "E": rt.each, "ES": rt.each_self, "L": rt.lenient_read,
            "P": rt.unsupported, "R": rt.unsupported, "D": rt.unsupported, **self.consts}
        code = compile(source, f"<mapping {self.decl.name}>", "exec")
        exec(code, namespace)  # noqa: S102 - source generated from the checked model only
        fn: Callable[[Any], NormalizedOrder] = namespace["apply"]
        return fn, source


def _dict_display(values: list[tuple[tuple[str, ...], str]]) -> str:
    """``{'a': v0, 'b': {'c': v1}}`` from (target path, local name) pairs, first-seen order."""
    tree: dict[str, Any] = {}
    for path, local in values:
        node = tree
        for seg in path[:-1]:
            child = node.setdefault(seg, {})
            if not isinstance(child, dict):  # pragma: no cover - the checker refuses this
                break
            node = child
        node[path[-1]] = local

    def render(node: dict[str, Any]) -> str:
        parts = [f"{k!r}: {render(v) if isinstance(v, dict) else v}" for k, v in node.items()]
        return "{" + ", ".join(parts) + "}"

    return render(tree)


# --------------------------------------------------------------------------- public surface


class CompiledMapping:
    """One compiled mapping: ``apply(payload)`` → normalized order, or :class:`MappingFailure`."""

    def __init__(self, decl: m.MappingDecl, channel: str | None) -> None:
        self.name = decl.name
        self.channel = channel
        self.decl = decl
        self._fn, self.source = _MappingCompiler(decl, channel).compile()

    def apply(self, payload: Mapping[str, Any]) -> NormalizedOrder:
        """Map one platform payload (the object the platform's order-detail API returns, or
        one export row keyed by column header)."""
        try:
            return self._fn(payload)
        except FieldError as exc:
            site = exc.site
            raise MappingFailure(mapping=self.name, line=site.line, col=site.col,
                                 path=format_path(exc.segments), message=exc.message,
                                 pointer=site.pointer) from None


def compile_mapping(decl: m.MappingDecl, *, platform: str | None = None) -> CompiledMapping:
    """Compile a checked mapping. ``platform`` is its source's platform, the order's
    ``channel`` (default: the mapping's name when that is a platform, as in the templates);
    a mapping that maps ``channel`` itself needs none. Raises ``ValueError`` when no channel
    can be told."""
    own = next((f.value for f in decl.fields if f.target == ("channel",)), None)
    channel = platform if platform is not None else (decl.name if decl.name in om.PLATFORMS else None)
    if own is None and channel is None:
        raise ValueError(f"mapping {decl.name}: its source's platform is unknown; pass platform= "
                         "or map channel in the mapping")
    return CompiledMapping(decl, channel if own is None else None)


def compile_ruleset_mappings(ruleset: m.Ruleset) -> dict[str, CompiledMapping]:
    """Every mapping of a checked ruleset, by name, each with its source's platform."""
    sources = {d.name: d for d in ruleset.declarations if isinstance(d, m.SourceDecl)}
    out: dict[str, CompiledMapping] = {}
    for d in ruleset.declarations:
        if isinstance(d, m.MappingDecl):
            source = sources.get(d.name)
            platform = source.platform if source is not None else None
            out[d.name] = compile_mapping(d, platform=platform)
    return out

