"""Deciding what an alert does now. Pure: no Flask, no SQLAlchemy.

For one alert and group, given the measure of the current window (the window of now, so far)
and of the previous one:

- ``change_vs_previous`` (and its synonym ``change``) is the change in percent, in basis points
  like every percent of the language (15% is 1500), or none when the previous window is 0;
- with ``minimum N`` the condition is looked at only when the current window reaches N and,
  when the condition reads ``previous``/``change``/``change_vs_previous``, the previous window
  does too: 1 → 2 is not "+100%". Below the minimum nothing changes (no firing, no clearing);
- the condition holding with no open firing fires — unless the group's last firing is younger
  than ``cooldown``; while a firing is open nothing more is sent (one condition, one message);
- an open firing whose condition is looked at and no longer holds clears (the ``clear notify``
  messages are sent).
Messages fill ``{value}``, ``{previous}``, ``{change}``, ``{change_vs_previous}``, ``{name}``
and ``{group}`` with the figures, written the way people read them (``+25%``, ``12``, ``3.5``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from engine.alerts.measures import CompiledAlert

__all__ = ["Decision", "Figures", "decide", "figures_of", "render"]

FIRE, CLEAR, HOLD_ON, QUIET, COOLING = "fire", "clear", "still_firing", "quiet", "cooling_down"


@dataclass(frozen=True)
class Figures:
    """The figures of one group: current and previous window, change in basis points."""

    value: Any
    previous: Any
    change_bp: int | None
    evaluable: bool

    def context(self) -> dict[str, Any]:
        return {"value": self.value, "previous": self.previous, "change": self.change_bp,
                "change_vs_previous": self.change_bp}

    def as_json(self) -> dict[str, Any]:
        return {"value": _plain(self.value), "previous": _plain(self.previous), "change_vs_previous_bp": self.change_bp,
                "change_vs_previous": _percent(self.change_bp)}


@dataclass(frozen=True)
class Decision:
    action: str  # fire | clear | still_firing | quiet | cooling_down
    figures: Figures


def _plain(v: Any) -> Any:
    if isinstance(v, Fraction):
        return int(v) if v.denominator == 1 else round(float(v), 4)
    return v


def _number_text(v: Any) -> str:
    v = _plain(v)
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def _percent(bp: int | None) -> str | None:
    if bp is None:
        return None
    sign = "+" if bp > 0 else "-" if bp < 0 else ""
    whole, frac = divmod(abs(bp), 100)
    text = f"{whole}" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")
    return f"{sign}{text}%"


def figures_of(alert: CompiledAlert, value: Any, previous: Any) -> Figures:
    """The figures of a group and whether its condition may be looked at (minimum volume)."""
    change: int | None = None
    if isinstance(value, (int, Fraction)) and isinstance(previous, (int, Fraction)) and previous != 0:
        ratio = (Fraction(value) - Fraction(previous)) / Fraction(previous) * 10000
        change = int((ratio + Fraction(1, 2)) // 1) if ratio >= 0 else -int((-ratio + Fraction(1, 2)) // 1)
    minimum = alert.decl.minimum
    evaluable = True
    if minimum is not None:
        evaluable = value is not None and value >= minimum
        if alert.uses_previous:
            evaluable = evaluable and previous is not None and previous >= minimum
    return Figures(value, previous, change, evaluable)


def decide(alert: CompiledAlert, figures: Figures, *, open_firing: bool, last_fired_at: datetime | None,
           now: datetime) -> Decision:
    """What to do for one group now (see the module docstring)."""
    if not figures.evaluable:
        return Decision(HOLD_ON if open_firing else QUIET, figures)
    holds = bool(alert.condition({}, figures.context()))
    if open_firing:
        return Decision(HOLD_ON if holds else CLEAR, figures)
    if not holds:
        return Decision(QUIET, figures)
    cooldown = alert.decl.cooldown
    if cooldown and last_fired_at is not None and now - last_fired_at < timedelta(seconds=cooldown):
        return Decision(COOLING, figures)
    return Decision(FIRE, figures)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render(message: str, alert: CompiledAlert, figures: Figures, group: str) -> str:
    """The message with its placeholders filled (an unknown one stays as written)."""
    values = {"value": _number_text(figures.value), "previous": _number_text(figures.previous),
              "change": _percent(figures.change_bp) or "—", "change_vs_previous": _percent(figures.change_bp) or "—",
              "name": alert.name, "group": group}
    return _PLACEHOLDER.sub(lambda mt: values.get(mt.group(1), mt.group(0)), message)
