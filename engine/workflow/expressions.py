"""Evaluating machine expressions (action guards, ``set`` values, ``to`` recipients, hook
bindings) against a ticket.

A guard is compiled once per machine version into a plain callable ``env -> value``. The
language package's compiler (``dsl.compiler.compile_condition``) is used when it is present;
until then a small tree-walking evaluator over the checked model nodes is used (it never
``eval``s text: only the known node types below are interpreted). Names resolve against an
environment dict: ``payload.x`` reads the action payload, other names read the ticket's data
(``id``, ``state`` and ``machine`` are provided too); an unknown name is ``None``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from dsl import model as m

Env = Mapping[str, Any]
Compiled = Callable[[Env], Any]

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.floordiv,
}
_FUNCS: dict[str, Callable[..., Any]] = {
    "lower": lambda s: None if s is None else str(s).lower(),
    "upper": lambda s: None if s is None else str(s).upper(),
    "trim": lambda s: None if s is None else str(s).strip(),
    "concat": lambda *a: "".join("" if x is None else str(x) for x in a),
    "len": lambda s: 0 if s is None else len(s),
    "present": lambda s: s is not None and s != "",
}


def _lookup(env: Env, path: tuple[str, ...]) -> Any:
    value: Any = env
    for part in path:
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    return value


def _safe_cmp(fn: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    try:
        return bool(fn(a, b))
    except TypeError:  # None < 3 and the like: a missing value never satisfies an order test
        return False


def _build(node: m.Expr) -> Compiled:
    if isinstance(node, m.Literal):
        value = node.value
        return lambda env: value
    if isinstance(node, m.Name):
        path = node.path
        if len(path) == 1:
            key = path[0]
            return lambda env: env.get(key)
        return lambda env: _lookup(env, path)
    if isinstance(node, m.Compare):
        fn = _CMP[node.op]
        left, right = _build(node.left), _build(node.right)
        if node.op in ("==", "!="):
            return lambda env: fn(left(env), right(env))
        return lambda env: _safe_cmp(fn, left(env), right(env))
    if isinstance(node, m.BoolOp):
        parts = [_build(o) for o in node.operands]
        if node.op == "and":
            return lambda env: all(p(env) for p in parts)
        return lambda env: any(p(env) for p in parts)
    if isinstance(node, m.Not):
        inner = _build(node.operand)
        return lambda env: not inner(env)
    if isinstance(node, m.Neg):
        inner = _build(node.operand)
        return lambda env: -inner(env)
    if isinstance(node, m.Arith):
        fn = _ARITH[node.op]
        left, right = _build(node.left), _build(node.right)
        return lambda env: fn(left(env), right(env))
    if isinstance(node, m.ListExpr):
        items = [_build(i) for i in node.items]
        return lambda env: [i(env) for i in items]
    if isinstance(node, m.In):
        item, container, negated = _build(node.item), _build(node.container), node.negated

        def _in(env: Env) -> bool:
            c = container(env)
            found = c is not None and item(env) in c
            return not found if negated else found

        return _in
    if isinstance(node, m.Call) and node.func in _FUNCS:
        fn = _FUNCS[node.func]
        args = [_build(a) for a in node.args]
        return lambda env: fn(*(a(env) for a in args))
    raise ValueError(f"expression {node.kind!r} is not allowed in a workflow rule")


def compile_expression(node: m.Expr, data_fields: Mapping[str, str] | None = None) -> Compiled:
    """A callable evaluating ``node`` against an environment dict.

    With ``data_fields`` (a machine's declared data, name → type) the language compiler's
    ``machine`` scope is used; without (hook bindings over a raw payload) the local evaluator."""
    if data_fields is not None:
        compiled = _language_compiler(node, data_fields, condition=False)
        if compiled is not None:
            return compiled
    return _build(node)


def compile_guard(node: m.Expr | None, data_fields: Mapping[str, str] | None = None) -> Callable[[Env], bool] | None:
    """A boolean callable for an action's ``when`` (None when the action has no guard)."""
    if node is None:
        return None
    compiled = _language_compiler(node, data_fields or {}, condition=True) or _build(node)
    return lambda env: bool(compiled(env))


def _language_compiler(node: m.Expr, data_fields: Mapping[str, str], *, condition: bool) -> Compiled | None:
    """``dsl.compiler`` in the machine scope: ``fn(ticket_data, ctx)`` where ctx carries
    ``payload``, ``id`` and ``state``; our env dict serves as both."""
    try:
        from dsl import compiler
    except ImportError:  # the language package without its compiler
        return None
    make = compiler.compile_condition if condition else compiler.compile_expression
    try:
        fn = make(node, "machine", data_fields=dict(data_fields))
    except Exception:  # noqa: BLE001 - a shape the compiler refuses falls back to the evaluator
        return None
    return lambda env: fn(env, env)
