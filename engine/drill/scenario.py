"""The drill's scenario: a festival day read from a TOML file (``scenarios/peak_day.toml`` is
the default), checked field by field, and the day's plan drawn from it with a seed.

Owns reading and checking the file (errors name the field path, e.g. ``channels.douyin``) and
drawing the plan (:func:`plan_day`: when each order arrives, on which platform, which SKUs,
which buyers are risky, which orders are presale, which get returned and why, how much stock
each SKU gets). It does no I/O beyond reading the file and knows no HTTP.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHANNELS = ("douyin", "taobao", "pdd", "kuaishou", "xiaohongshu", "miniprogram")
FAULT_KINDS = ("platform_5xx", "platform_timeout", "platform_down", "bad_signatures", "redis_restart",
               "worker_kill")
DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "peak_day.toml"


class ScenarioError(ValueError):
    """A scenario field that does not fit: ``path`` names it (``returns.rate``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class Fault:
    at_hour: float
    kind: str
    platform: str | None = None
    n: int = 1
    seconds: float = 5.0
    minutes: float = 10.0


@dataclass(frozen=True)
class Scenario:
    orders: int
    hourly_shape: tuple[float, ...]
    promise_ship_hours: float
    pick_minutes: float
    settle_seconds: float
    channels: dict[str, float]
    pull_orders_seconds: int
    retry: str
    sku_count: int
    zipf_s: float
    price_fen: tuple[int, int]
    lines_per_order: tuple[int, ...]
    stock_cover: float
    hot: int
    hot_cover: float
    risky_share: float
    presale_share: float
    return_rate: float
    return_reasons: dict[str, float]
    qc_failure_rate: float
    approval_twice_share: float
    faults: tuple[Fault, ...] = field(default_factory=tuple)
    source: str = ""


def _get(table: dict[str, Any], path: str, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = table.get(key, default)
    if value is None:
        raise ScenarioError(f"{path}.{key}" if path else key, "is required")
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ScenarioError(f"{path}.{key}" if path else key, f"must be {_kind_name(kind)}, not {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({int: "a whole number", float: "a number", str: "text", list: "a list",
                        dict: "a table"}.get(k, k.__name__) for k in kinds)


def _share(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ScenarioError(path, f"must be a share between 0 and 1, not {value!r}")
    return float(value)


def _weights(table: Any, path: str, allowed: tuple[str, ...] | None = None) -> dict[str, float]:
    if not isinstance(table, dict) or not table:
        raise ScenarioError(path, "must be a table of name = weight")
    out = {}
    for name, weight in table.items():
        if allowed is not None and name not in allowed:
            raise ScenarioError(f"{path}.{name}", f"is not one of {', '.join(allowed)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ScenarioError(f"{path}.{name}", f"must be a weight >= 0, not {weight!r}")
        out[name] = float(weight)
    if sum(out.values()) <= 0:
        raise ScenarioError(path, "needs at least one weight above 0")
    return out


def load_scenario(path: Path | str | None = None, *, orders: int | None = None) -> Scenario:
    """Read and check the scenario at ``path`` (default: the repository's peak day)."""
    source = Path(path) if path else DEFAULT_SCENARIO
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(source), f"is not valid TOML: {exc}") from None
    return scenario_from_dict(data, orders=orders, source=str(source))


def scenario_from_dict(data: dict[str, Any], *, orders: int | None = None, source: str = "") -> Scenario:
    from engine.drill.reasons import known_reason_codes

    day = _get(data, "", "day", dict)
    shape = _get(day, "day", "hourly_shape", list)
    if len(shape) != 24 or any(isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0 for x in shape):
        raise ScenarioError("day.hourly_shape", "must list 24 weights >= 0 (hours 0..23)")
    if sum(shape) <= 0:
        raise ScenarioError("day.hourly_shape", "needs at least one hour above 0")
    n = orders if orders is not None else _get(day, "day", "orders", int)
    if n < 1:
        raise ScenarioError("day.orders", f"must be at least 1, not {n}")
    sources = _get(data, "", "sources", dict)
    skus = _get(data, "", "skus", dict)
    buyers = _get(data, "", "buyers", dict)
    returns = _get(data, "", "returns", dict)
    prices = _get(skus, "skus", "price_fen", list)
    if len(prices) != 2 or not all(isinstance(p, int) and p > 0 for p in prices) or prices[0] > prices[1]:
        raise ScenarioError("skus.price_fen", "must be [lowest, highest] whole fen above 0")
    lines = _get(skus, "skus", "lines_per_order", list)
    if not lines or not all(isinstance(x, int) and x >= 1 for x in lines):
        raise ScenarioError("skus.lines_per_order", "must list whole numbers >= 1")
    reasons = _weights(_get(returns, "returns", "reasons", dict), "returns.reasons", tuple(known_reason_codes()))
    faults = []
    for i, raw in enumerate(data.get("faults", [])):
        path = f"faults[{i}]"
        kind = _get(raw, path, "kind", str)
        if kind not in FAULT_KINDS:
            raise ScenarioError(f"{path}.kind", f"{kind!r} is not one of {', '.join(FAULT_KINDS)}")
        at = float(_get(raw, path, "at_hour", (int, float)))
        if not 0 <= at < 24:
            raise ScenarioError(f"{path}.at_hour", f"must be within the day (0 <= hour < 24), not {at}")
        platform = raw.get("platform")
        if kind.startswith("platform_") and platform not in CHANNELS:
            raise ScenarioError(f"{path}.platform", f"must be one of {', '.join(CHANNELS)}, not {platform!r}")
        faults.append(Fault(at, kind, platform, int(raw.get("n", 1)), float(raw.get("seconds", 5.0)),
                            float(raw.get("minutes", 10.0))))
    pull = _get(sources, "sources", "pull_orders_seconds", int)
    if pull < 1:
        raise ScenarioError("sources.pull_orders_seconds", "must be at least 1")
    return Scenario(
        orders=n, hourly_shape=tuple(float(x) for x in shape),
        promise_ship_hours=float(_get(day, "day", "promise_ship_hours", (int, float))),
        pick_minutes=float(_get(day, "day", "pick_minutes", (int, float))),
        settle_seconds=float(_get(day, "day", "settle_seconds", (int, float))),
        channels=_weights(_get(data, "", "channels", dict), "channels", CHANNELS),
        pull_orders_seconds=pull, retry=_get(sources, "sources", "retry", str),
        sku_count=_get(skus, "skus", "count", int), zipf_s=float(_get(skus, "skus", "zipf_s", (int, float))),
        price_fen=(prices[0], prices[1]), lines_per_order=tuple(lines),
        stock_cover=float(_get(skus, "skus", "stock_cover", (int, float))),
        hot=_get(skus, "skus", "hot", int), hot_cover=float(_get(skus, "skus", "hot_cover", (int, float))),
        risky_share=_share(buyers.get("risky_share", 0), "buyers.risky_share"),
        presale_share=_share(buyers.get("presale_share", 0), "buyers.presale_share"),
        return_rate=_share(returns.get("rate", 0), "returns.rate"), return_reasons=reasons,
        qc_failure_rate=_share(returns.get("qc_failure_rate", 0), "returns.qc_failure_rate"),
        approval_twice_share=_share(returns.get("approval_twice_share", 0), "returns.approval_twice_share"),
        faults=tuple(sorted(faults, key=lambda f: f.at_hour)), source=source,
    )


# --- the day's plan --------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedOrder:
    seq: int
    at_hour: float          # when in the day it arrives
    channel: str
    lines: tuple[tuple[str, int], ...]  # (SKU code, qty)
    presale: bool
    risky_buyer: int | None  # index of a risky buyer (same phone, several cities), else None
    returned: str | None     # return reason code when the customer sends it back
    qc_fails: bool
    approval_twice: bool


@dataclass(frozen=True)
class DayPlan:
    orders: tuple[PlannedOrder, ...]
    prices: dict[str, int]
    stock: dict[str, int]
    demand: dict[str, int]
    hot: tuple[str, ...]


def sku_code(rank: int) -> str:
    return f"DRILL-{rank:04d}"


def plan_day(s: Scenario, seed: int = 20261111) -> DayPlan:
    """Every order of the day, sorted by arrival, and the stock each SKU starts with."""
    rng = random.Random(seed)
    codes = [sku_code(r) for r in range(1, s.sku_count + 1)]
    zipf = [1.0 / (r ** s.zipf_s) for r in range(1, s.sku_count + 1)]
    prices = {c: rng.randrange(s.price_fen[0] // 100, s.price_fen[1] // 100 + 1) * 100 for c in codes}
    hours = rng.choices(range(24), weights=s.hourly_shape, k=s.orders)
    channels = rng.choices(list(s.channels), weights=list(s.channels.values()), k=s.orders)
    reasons, weights = list(s.return_reasons), list(s.return_reasons.values())
    risky_buyers = max(1, int(s.orders * s.risky_share / 5)) if s.risky_share > 0 else 0
    orders = []
    demand: dict[str, int] = dict.fromkeys(codes, 0)
    for i in range(s.orders):
        k = min(rng.choice(s.lines_per_order), len(codes))
        picked: list[str] = []
        while len(picked) < k:
            code = rng.choices(codes, weights=zipf)[0]
            if code not in picked:
                picked.append(code)
        lines = tuple((c, rng.choice((1, 1, 1, 2))) for c in picked)
        for c, q in lines:
            demand[c] += q
        risky = rng.randrange(risky_buyers) if risky_buyers and rng.random() < s.risky_share else None
        returned = rng.choices(reasons, weights=weights)[0] if rng.random() < s.return_rate else None
        orders.append(PlannedOrder(i, hours[i] + rng.random(), channels[i], lines, rng.random() < s.presale_share,
                                   risky, returned, returned is not None and rng.random() < s.qc_failure_rate,
                                   rng.random() < s.approval_twice_share))
    orders.sort(key=lambda o: o.at_hour)
    ranked = sorted(codes, key=lambda c: -demand[c])
    hot = tuple(ranked[:s.hot])
    stock = {c: int(demand[c] * (s.hot_cover if c in hot else s.stock_cover)) + (0 if c in hot else 2) for c in codes}
    return DayPlan(tuple(orders), prices, stock, demand, hot)
