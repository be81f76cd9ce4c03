"""Analytics and metrics API:

- ``GET /analytics/hourly`` (the staffing heatmap) and ``GET /analytics/hourly/orders`` (the
  orders of one weekday × hour cell);
- ``GET /analytics/geo`` (top 3 km cells, district growth against the province) and
  ``GET /analytics/geo/grids/{cell}`` (one cell: districts, SKUs, SKU pairs, its orders);
- ``GET /metrics/fulfillment-deviation`` (late rates per channel, day and hour of promise, the
  late orders; the threshold is the query's, else the published ``late after``, else 2 h);
- ``GET /analytics/return-reasons`` (after-sales tickets per week per reason, week over week) and
  ``GET /analytics/return-reasons/tickets`` (the tickets of one week and reason);
- ``GET /metrics/presale`` (presale orders due per ship-by day, overdue ones) and
  ``GET /metrics/presale/orders`` (the orders behind one figure).

Ranges are Asia/Shanghai dates, both ends included (default: the last 7 days up to today).
Readers: 管理员, 运营, 客服组长 (and 仓储 for the deviation). Views only translate HTTP; the
queries live in hourly.py, geo.py, deviation.py, return_reasons.py and engine/fulfillment/presale.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.analytics.deviation import DEFAULT_THRESHOLD_S, deviation_report
from engine.analytics.deviation_counts import ensure_threshold
from engine.analytics.geo import cell_detail, geo_overview
from engine.analytics.hourly import cell_orders, hourly_heatmap
from engine.analytics.ranges import MAX_DAYS, DateRange
from engine.analytics.return_reasons import reason_tickets, return_reasons
from engine.analytics.sql_time import SHANGHAI
from engine.api.fields import comma_list
from engine.auth.access import allow
from engine.fulfillment.declared import declared_fulfillment
from engine.fulfillment.presale import STATES as PRESALE_STATES
from engine.fulfillment.presale import presale_orders, presale_plan
from engine.orders.document import CHANNELS

analytics_blp = Blueprint("analytics", __name__, url_prefix="/analytics",
                          description="Operations analytics: staffing heatmap, order geography")
metrics_blp = Blueprint("metrics", __name__, url_prefix="/metrics", description="Operations metrics")

F = TypeVar("F", bound=Callable[..., Any])

READERS = ("admin", "ops", "cs_lead")
METRICS_READERS = (*READERS, "warehouse")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_LIMIT = 200
_DURATION = re.compile(r"^(\d{1,7})(s|m|h|d)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
RANGE_REFUSED = "unknown channel, bad date, from after to, range too long"


def _services() -> Any:
    return current_app.extensions["orderpulse"]


def _query_view(blp: Blueprint, rule: str, args: Schema, refused_when: str, *, refused_with: int = 422,
                readers: Sequence[str] = READERS) -> Callable[[F], F]:
    """``GET rule`` on ``blp`` for ``readers``: the query read by ``args``, answered 200, and the
    refusal (``refused_with``, 422 by default) documented as ``refused_when``."""

    def decorate(view: F) -> F:
        view = allow(*readers)(view)
        view = blp.alt_response(refused_with, description=refused_when)(view)
        view = blp.response(200)(view)
        view = blp.arguments(args, location="query")(view)
        return blp.route(rule, methods=["GET"])(view)

    return decorate


def _check_channels(data: dict[str, Any]) -> None:
    for value in comma_list(data.get("channel")):
        if value not in CHANNELS:
            raise ValidationError(f"unknown channel {value!r}; one of {', '.join(CHANNELS)}", "channel")


class RangeArgs(Schema):
    from_ = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "first day (Asia/Shanghai), YYYY-MM-DD; default 6 days before to"})
    to = fields.Date(load_default=None, metadata={"description": "last day, included; default today (Asia/Shanghai)"})
    channel = fields.String(load_default=None, metadata={"description": "channel(s), comma-separated"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _check_channels(data)
        first, last = data.get("from_"), data.get("to")
        for name, day in (("from", first), ("to", last)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise ValidationError(f"a day between {FIRST_DAY} and {LAST_DAY}", name)
        if first and last:
            if first > last:
                raise ValidationError("from must not be after to", "from")
            if (last - first).days + 1 > MAX_DAYS:
                raise ValidationError(f"a range covers at most {MAX_DAYS} days", "to")


class PageArgs(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))


class CellArgs(RangeArgs, PageArgs):
    weekday = fields.Integer(required=True, validate=validate.Range(min=1, max=7),
                             metadata={"description": "1 Monday … 7 Sunday"})
    hour = fields.Integer(required=True, validate=validate.Range(min=0, max=23))


class GeoArgs(RangeArgs):
    top = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))
    min_orders = fields.Integer(load_default=10, validate=validate.Range(min=1, max=1_000_000),
                                metadata={"description": "districts with fewer orders are left out of growth"})


class GridArgs(RangeArgs, PageArgs):
    pass


class DeviationArgs(RangeArgs, PageArgs):
    threshold = fields.String(load_default=None, validate=validate.Length(max=16),
                              metadata={"description": "late beyond this (e.g. 2h, 90m, 7200s); default: the "
                                                       "published `late after`, else 2h"})

    @validates_schema
    def _threshold(self, data: dict[str, Any], **_: Any) -> None:
        value = data.get("threshold")
        if value is not None and (_DURATION.match(value) is None):
            raise ValidationError("a duration such as 2h, 90m or 7200s", "threshold")


def _today() -> date:
    return _services().clock.now().astimezone(SHANGHAI).date()


def _range(args: dict[str, Any]) -> DateRange:
    last: date = args.get("to") or _today()
    first: date = args.get("from_") or last - timedelta(days=6)
    if first > last:
        first = last
    return DateRange(first, last)


@_query_view(analytics_blp, "/hourly", RangeArgs(), RANGE_REFUSED)
def get_hourly(args: dict[str, Any]) -> Any:
    """Orders per weekday × hour (Asia/Shanghai) in the range, in total and per channel."""
    with _services().db.session() as session:
        return hourly_heatmap(session, _range(args), comma_list(args["channel"]))


@_query_view(analytics_blp, "/hourly/orders", CellArgs(),
             "bad weekday or hour, bad range, a cursor this API did not give out")
def get_hourly_orders(args: dict[str, Any]) -> Any:
    """The orders counted in one cell of the heatmap, newest first."""
    with _services().db.session() as session:
        return cell_orders(session, _range(args), comma_list(args["channel"]), weekday=args["weekday"],
                           hour=args["hour"], cursor=args["cursor"], limit=args["limit"])


@_query_view(analytics_blp, "/geo", GeoArgs(), RANGE_REFUSED)
def get_geo(args: dict[str, Any]) -> Any:
    """The busiest 3 km cells of the range with their districts, and district growth against the
    province over the period of the same length before it."""
    with _services().db.session() as session:
        return geo_overview(session, _range(args), comma_list(args["channel"]), top=args["top"],
                            min_orders=args["min_orders"])


@_query_view(analytics_blp, "/geo/grids/<string:cell>", GridArgs(), "no district lies in that cell", refused_with=404)
def get_grid(args: dict[str, Any], cell: str) -> Any:
    """One cell: its districts, the SKUs and SKU pairs its orders hold, and its orders."""
    with _services().db.session() as session:
        return cell_detail(session, cell, _range(args), comma_list(args["channel"]), cursor=args["cursor"],
                           limit=args["limit"])


def published_threshold(session: Any) -> tuple[int, str]:
    """The late threshold without a query's: the published ``late after`` (and where it comes
    from), else 2 h (``"default"``)."""
    declared = declared_fulfillment(session)
    if declared.late_after is not None:
        return declared.late_after, declared.late_after_from or "declared"
    return DEFAULT_THRESHOLD_S, "default"


@_query_view(metrics_blp, "/fulfillment-deviation", DeviationArgs(),
             "bad threshold, bad range, a cursor this API did not give out", readers=METRICS_READERS)
def get_deviation(args: dict[str, Any]) -> Any:
    """Shipped minus promised ship time per order; late rates per channel, day and hour of
    promise, with the late orders (by promise time)."""
    services = _services()
    with services.db.session() as session:
        published, _ = published_threshold(session)
    ensure_threshold(services.db, published)  # a new published threshold re-derives the counters once
    with services.db.session() as session:
        threshold, source = published_threshold(session)
        if args["threshold"]:
            match = _DURATION.match(args["threshold"])
            assert match is not None
            threshold, source = int(match.group(1)) * _UNIT[match.group(2)], "query"
        report = deviation_report(session, _range(args), comma_list(args["channel"]), threshold_s=threshold,
                                  now=services.clock.now(), cursor=args["cursor"], limit=args["limit"])
        return {**report, "threshold_from": source}


class ReturnReasonArgs(RangeArgs):
    pass


class ReasonTicketArgs(PageArgs):
    week = fields.Date(required=True, metadata={"description": "any day of the week (Asia/Shanghai, Monday to Sunday)"})
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=128))
    channel = fields.String(load_default=None, metadata={"description": "channel(s), comma-separated"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _check_channels(data)
        if not FIRST_DAY <= data["week"] <= LAST_DAY:
            raise ValidationError(f"a day between {FIRST_DAY} and {LAST_DAY}", "week")


class PresaleOrderArgs(PageArgs):
    day = fields.Date(load_default=None, metadata={"description": "ship-by day (Asia/Shanghai); "
                                                                  "without it: every overdue order"})
    state = fields.String(load_default=None, validate=validate.OneOf(PRESALE_STATES),
                          metadata={"description": "due (default with a day), shipped, waiting, overdue"})
    channel = fields.String(load_default=None, metadata={"description": "channel(s), comma-separated"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _check_channels(data)
        day = data.get("day")
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(f"a day between {FIRST_DAY} and {LAST_DAY}", "day")
        if day is None and data.get("state") not in (None, "overdue"):
            raise ValidationError("a day is needed for due, shipped and waiting orders", "day")


def _weeks_range(args: dict[str, Any], weeks: int) -> DateRange:
    last: date = args.get("to") or _today()
    first: date = args.get("from_") or last - timedelta(days=7 * weeks - 1)
    return DateRange(min(first, last), last)


def _ahead_range(args: dict[str, Any], days: int) -> DateRange:
    first: date = args.get("from_") or _today()
    last: date = args.get("to") or first + timedelta(days=days - 1)
    return DateRange(min(first, last), last)


@_query_view(analytics_blp, "/return-reasons", ReturnReasonArgs(), RANGE_REFUSED)
def get_return_reasons(args: dict[str, Any]) -> Any:
    """After-sales tickets per week (Monday to Sunday, Asia/Shanghai) per reason, each week against
    the week before (default: the last 8 weeks up to today)."""
    with _services().db.session() as session:
        return return_reasons(session, _weeks_range(args, 8), comma_list(args["channel"]))


@_query_view(analytics_blp, "/return-reasons/tickets", ReasonTicketArgs(),
             "bad week, unknown channel, a cursor this API did not give out")
def get_return_reason_tickets(args: dict[str, Any]) -> Any:
    """The tickets counted in one week, of one reason (or all), newest first."""
    with _services().db.session() as session:
        return reason_tickets(session, args["week"], args["reason"], comma_list(args["channel"]),
                              cursor=args["cursor"], limit=args["limit"])


@_query_view(metrics_blp, "/presale", RangeArgs(), RANGE_REFUSED, readers=METRICS_READERS)
def get_presale(args: dict[str, Any]) -> Any:
    """Presale orders per ship-by day (Asia/Shanghai; default the 14 days from today): due, shipped,
    waiting and overdue, and the overdue orders (past their ship-by, not shipped)."""
    services = _services()
    with services.db.session() as session:
        return presale_plan(session, _ahead_range(args, 14), comma_list(args["channel"]), now=services.clock.now())


@_query_view(metrics_blp, "/presale/orders", PresaleOrderArgs(),
             "no day for due, shipped or waiting; a cursor this API did not give out", readers=METRICS_READERS)
def get_presale_orders(args: dict[str, Any]) -> Any:
    """The presale orders behind one figure of the plan, by ship-by time."""
    services = _services()
    state = args["state"] or ("due" if args["day"] is not None else "overdue")
    with services.db.session() as session:
        return presale_orders(session, args["day"], comma_list(args["channel"]), state=state,
                              now=services.clock.now(), cursor=args["cursor"], limit=args["limit"])
