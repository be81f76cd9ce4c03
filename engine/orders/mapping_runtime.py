"""What a mapped value may be, and the helpers a compiled mapping calls at run time.

This module owns the coercion of each target to its type in the order model (text, integer
fen, count, aware UTC time, status, channel …), the reading of payload paths, ``each`` over a
payload list, map-table look-ups, and :class:`FieldError`, which carries the payload path and
the mapping line out of generated code (:mod:`engine.orders.mapping` turns it into
``MappingFailure``). Pure: no I/O, no Flask, no SQLAlchemy. Coercion refuses, never guesses:
money must already be integer fen (``yuan()``/``fen()`` in the mapping), times aware
datetimes (``from_…``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dsl import order_model as om
from dsl.conversions import MAX_FEN, ConversionError, describe, whole_number

__all__ = ["COERCE", "NO_DEFAULT", "FieldError", "Site", "as_anything", "as_channel", "as_status", "convert", "each",
           "each_self", "format_path", "lenient_read", "map_code", "text_call", "unexpected", "unsupported"]

_UTC = _dt.UTC


@dataclass(frozen=True)
class Site:
    """Where a value comes from: its payload path relative to the current object, and the
    mapping line that reads it."""

    segments: tuple[str | int, ...]
    line: int
    col: int
    pointer: str


class FieldError(Exception):
    """Raised inside a compiled mapping; the path grows as it leaves ``each`` blocks."""

    def __init__(self, site: Site, message: str) -> None:
        super().__init__(message)
        self.segments: list[str | int] = list(site.segments)
        self.site = site
        self.message = message


def format_path(segments: tuple[str | int, ...] | list[str | int]) -> str:
    """``("orders", "order", 1, "price")`` → ``$.orders.order[1].price`` (keys that are not
    names, such as ``订单 编号``, are written ``["…"]``)."""
    out = ["$"]
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif seg.isidentifier():
            out.append(f".{seg}")
        else:
            out.append('["' + seg.replace('"', '\\"') + '"]')
    return "".join(out)


# --------------------------------------------------------------------------- runtime helpers


def convert(fn: Callable[[Any], Any], value: Any, site: Site, name: str) -> Any:
    try:
        return fn(value)
    except ConversionError as exc:
        raise FieldError(site, str(exc)) from None
    except (ValueError, TypeError, OverflowError):
        raise FieldError(site, f"{describe(value)} cannot be read by {name}()") from None


def text_call(fn: Callable[..., Any], value: Any, *rest: Any) -> Any:
    return None if value is None else fn(value, *rest)


class NoDefault:
    pass


NO_DEFAULT = NoDefault()


def map_code(table: dict[Any, Any], value: Any, default: Any, site: Site) -> Any:
    if value is None or value == "":
        return None
    try:
        return table[value]
    except KeyError:
        pass
    except TypeError:
        raise FieldError(site, f"{describe(value)} is not a code") from None
    if default is NO_DEFAULT:
        raise FieldError(site, f"{describe(value)} is not one of the codes in the map")
    return default


def each(items: Any, build: Callable[[dict[str, Any]], dict[str, Any]],
          keep: Callable[[dict[str, Any]], bool] | None, site: Site) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    if isinstance(items, dict):  # one object where a list may stand (Kuaishou orderItemInfo)
        try:
            return each_self(items, build, keep, site)
        except FieldError as exc:
            exc.segments[:0] = site.segments
            raise
    if not isinstance(items, list):
        raise FieldError(site, f"{describe(items)} is not a list")
    out = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise FieldError(Site((), site.line, site.col, site.pointer),
                                  f"{describe(item)} is not an object")
            if keep is not None and not keep(item):
                continue
            out.append(build(item))
        except FieldError as exc:
            exc.segments[:0] = [*site.segments, i]
            raise
    return out


def each_self(item: Any, build: Callable[[dict[str, Any]], dict[str, Any]],
               keep: Callable[[dict[str, Any]], bool] | None, site: Site) -> list[dict[str, Any]]:
    """``each self``: the object itself as the only element (an export row holding one line)."""
    if keep is not None and not keep(item):
        return []
    return [build(item)]


def missing(site: Site) -> FieldError:
    return FieldError(site, "missing")


def as_text(value: Any, site: Site, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise missing(site)
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    raise FieldError(site, f"{describe(value)} is not text")


def as_money(value: Any, site: Site, required: bool) -> int | None:
    if value is None:
        if required:
            raise missing(site)
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if -MAX_FEN <= value <= MAX_FEN:
            return value
        raise FieldError(site, f"{describe(value)} is too large an amount")
    raise FieldError(site, f"{describe(value)} is not an amount in fen (the mapping should read "
                            "it with yuan() or fen())")


def as_count(value: Any, site: Site, required: bool) -> int | None:
    try:
        n = whole_number(value, "a quantity")
    except ConversionError as exc:
        raise FieldError(site, str(exc)) from None
    if n is None:
        if required:
            raise missing(site)
        return None
    if not 0 <= n <= 1_000_000:
        raise FieldError(site, f"{describe(value)} is not a quantity between 0 and 1,000,000")
    return n


def as_number(value: Any, site: Site, required: bool) -> int | float | Decimal | None:
    if value is None or value == "":
        if required:
            raise missing(site)
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    raise FieldError(site, f"{describe(value)} is not a number")


def as_time(value: Any, site: Site, required: bool) -> _dt.datetime | None:
    if value is None:
        if required:
            raise missing(site)
        return None
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        return value if value.tzinfo is _UTC else value.astimezone(_UTC)
    raise FieldError(site, f"{describe(value)} is not a time (the mapping should read it with "
                            "from_shanghai(), from_unix() or from_unix_ms())")


# True == 1 and False == 0 as dict keys, so JSON 1/0 are covered too
TRUTHS: dict[Any, bool] = {True: True, False: False, "true": True, "false": False, "1": True,
                            "0": False}


def as_bool(value: Any, site: Site, required: bool) -> bool | None:
    if value is None or value == "":
        if required:
            raise missing(site)
        return None
    try:
        return TRUTHS[value]
    except (KeyError, TypeError):
        raise FieldError(site, f"{describe(value)} is not true or false") from None


def as_text_list(value: Any, site: Site, required: bool) -> list[str] | None:
    if value is None:
        if required:
            raise missing(site)
        return None
    if isinstance(value, (list, tuple)):
        return [t for t in (as_text(v, site, False) for v in value) if t is not None]
    raise FieldError(site, f"{describe(value)} is not a list of text")


def as_status(value: Any, site: Site, required: bool) -> str | None:
    text = as_text(value, site, required)
    if text is None:
        return None
    status = om.canonical_status(text)
    if status is None:
        raise FieldError(site, f"{describe(value)} is not an order status")
    return status


def as_channel(value: Any, site: Site, required: bool) -> str | None:
    text = as_text(value, site, required)
    if text is not None and text not in om.PLATFORMS:
        raise FieldError(site, f"{describe(value)} is not a channel")
    return text


def as_anything(value: Any, site: Site, required: bool) -> Any:
    if value is None and required:
        raise missing(site)
    return value


COERCE: dict[str, Callable[[Any, Site, bool], Any]] = {
    "text": as_text, "money": as_money, "count": as_count, "number": as_number, "time": as_time,
    "bool": as_bool, "list:text": as_text_list,
}


def unexpected(exc: Exception, site: Site) -> FieldError:
    return FieldError(site, f"cannot be mapped ({type(exc).__name__})")



def lenient_read(subject: Any, path: tuple[str, ...]) -> Any:
    value = subject
    for seg in path:
        if isinstance(value, dict):
            value = value.get(seg)
        else:
            return None
    return value


def unsupported(*_: Any) -> Any:
    """Projection, percent and division helpers of other scopes: a mapping value that needs one
    is refused with the field's path and line (``cannot be mapped``)."""
    raise TypeError("not available in a mapping")
