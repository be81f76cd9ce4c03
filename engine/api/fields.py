"""Marshmallow fields for request bodies, over the value rules of :mod:`engine.values`:
``Identifier`` (SKU codes, order ids, names, keys), ``Money`` (integer fen, 0..10^12),
``BoundedInt`` and ``Text`` (free text with a length limit), and :func:`comma_list` for query
parameters that take several values (``channel=douyin,pdd``). Each writes its bounds into the
OpenAPI document (maxLength, pattern, minimum, maximum), so the document states what the
server enforces. Use them in every new schema instead of bare ``fields.String``/``Integer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError, fields, validate

from engine.values import (
    IDENTIFIER_MAX,
    IDENTIFIER_PATTERN,
    MONEY_MAX_FEN,
    identifier_problem,
    money_problem,
)


def comma_list(value: str | None) -> list[str]:
    """The values of a comma-separated query parameter, blanks dropped (None: none)."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _raise_problem(problem: str | None) -> None:
    if problem is not None:
        raise ValidationError(problem)


class Identifier(fields.String):
    """A name or code: 1..``max_length`` characters, no control, bidi or zero-width
    characters, no '/', no white space at either end."""

    def __init__(self, *, max_length: int = IDENTIFIER_MAX, **kwargs: Any) -> None:
        self.max_length = max_length
        extra: list[Callable[[Any], Any]] = [
            validate.Length(min=1, max=max_length), validate.Regexp(IDENTIFIER_PATTERN),
            lambda value: _raise_problem(identifier_problem(value, max_length))]
        given = kwargs.pop("validate", None)
        if given is not None:
            extra += list(given) if isinstance(given, (list, tuple)) else [given]
        super().__init__(validate=extra, **kwargs)


class Text(fields.String):
    """Free text (a reason, a note) of at most ``max_length`` characters; NUL bytes are
    refused for every string by the request guard."""

    def __init__(self, *, max_length: int, min_length: int = 0, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(min=min_length, max=max_length), **kwargs)


class BoundedInt(fields.Integer):
    """A whole JSON number (no "12" strings, no 12.0) within [minimum, maximum]."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=minimum, max=maximum), **kwargs)


class Money(fields.Integer):
    """Money in integer fen: 0..10^12 (¥10,000,000,000)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=[validate.Range(min=0, max=MONEY_MAX_FEN),
                                                lambda value: _raise_problem(money_problem(value))], **kwargs)
