"""Analytics and metrics API:

- ``GET /analytics/hourly`` (the staffing heatmap) and ``GET /analytics/hourly/orders`` (the
  orders of one weekday × hour cell);
- ``GET /analytics/geo`` (top 3 km cells, district growth against the province) and
  ``GET /analytics/geo/grids/{cell}`` (one cell: districts, SKUs, SKU pairs, its orders);
- ``GET /metrics/fulfillment-deviation`` (late rates per channel, day and hour of promise, the
  late orders).

Ranges are Asia/Shanghai dates, both ends included (default: the last 7 days up to today).
Readers: 管理员, 运营, 客服组长 (and 仓储 for the deviation). Views only translate HTTP; the
queries live in hourly.py, geo.py and deviation.py.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.analytics.deviation import DEFAULT_THRESHOLD_S, deviation_report
from engine.analytics.geo import cell_detail, geo_overview
from engine.analytics.hourly import cell_orders, hourly_heatmap
from engine.analytics.ranges import MAX_DAYS, DateRange
from engine.analytics.sql_time import SHANGHAI
from engine.api.fields import comma_list
from engine.auth.access import allow
from engine.orders.document import CHANNELS

analytics_blp = Blueprint("analytics", __name__, url_prefix="/analytics",
                          description="Operations analytics: staffing heatmap, order geography")
metrics_blp = Blueprint("metrics", __name__, url_prefix="/metrics", description="Operations metrics")

READERS = ("admin", "ops", "cs_lead")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_LIMIT = 200
_DURATION = re.compile(r"^(\d{1,7})(s|m|h|d)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _services() -> Any:
    return current_app.extensions["orderpulse"]


class RangeArgs(Schema):
    from_ = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "first day (Asia/Shanghai), YYYY-MM-DD; default 6 days before to"})
    to = fields.Date(load_default=None, metadata={"description": "last day, included; default today (Asia/Shanghai)"})
    channel = fields.String(load_default=None, metadata={"description": "channel(s), comma-separated"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        for value in comma_list(data.get("channel")):
            if value not in CHANNELS:
                raise ValidationError(f"unknown channel {value!r}; one of {', '.join(CHANNELS)}", "channel")
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
                              metadata={"description": "late beyond this (e.g. 2h, 90m, 7200s); default 2h"})

    @validates_schema
    def _threshold(self, data: dict[str, Any], **_: Any) -> None:
        value = data.get("threshold")
        if value is not None and (_DURATION.match(value) is None):
            raise ValidationError("a duration such as 2h, 90m or 7200s", "threshold")


def _range(args: dict[str, Any]) -> DateRange:
    today = _services().clock.now().astimezone(SHANGHAI).date()
    last: date = args.get("to") or today
    first: date = args.get("from_") or last - timedelta(days=6)
    if first > last:
        first = last
    return DateRange(first, last)


@analytics_blp.route("/hourly", methods=["GET"])
@analytics_blp.arguments(RangeArgs(), location="query")
@analytics_blp.response(200)
@analytics_blp.alt_response(422, description="unknown channel, bad date, from after to, range too long")
@allow(*READERS)
def get_hourly(args: dict[str, Any]) -> Any:
    """Orders per weekday × hour (Asia/Shanghai) in the range, in total and per channel."""
    with _services().db.session() as session:
        return hourly_heatmap(session, _range(args), comma_list(args["channel"]))


@analytics_blp.route("/hourly/orders", methods=["GET"])
@analytics_blp.arguments(CellArgs(), location="query")
@analytics_blp.response(200)
@analytics_blp.alt_response(422, description="bad weekday or hour, bad range, a cursor this API did not give out")
@allow(*READERS)
def get_hourly_orders(args: dict[str, Any]) -> Any:
    """The orders counted in one cell of the heatmap, newest first."""
    with _services().db.session() as session:
        return cell_orders(session, _range(args), comma_list(args["channel"]), weekday=args["weekday"],
                           hour=args["hour"], cursor=args["cursor"], limit=args["limit"])


@analytics_blp.route("/geo", methods=["GET"])
@analytics_blp.arguments(GeoArgs(), location="query")
@analytics_blp.response(200)
@analytics_blp.alt_response(422, description="unknown channel, bad date, from after to, range too long")
@allow(*READERS)
def get_geo(args: dict[str, Any]) -> Any:
    """The busiest 3 km cells of the range with their districts, and district growth against the
    province over the period of the same length before it."""
    with _services().db.session() as session:
        return geo_overview(session, _range(args), comma_list(args["channel"]), top=args["top"],
                            min_orders=args["min_orders"])


@analytics_blp.route("/geo/grids/<string:cell>", methods=["GET"])
@analytics_blp.arguments(GridArgs(), location="query")
@analytics_blp.response(200)
@analytics_blp.alt_response(404, description="no district lies in that cell")
@allow(*READERS)
def get_grid(args: dict[str, Any], cell: str) -> Any:
    """One cell: its districts, the SKUs and SKU pairs its orders hold, and its orders."""
    with _services().db.session() as session:
        return cell_detail(session, cell, _range(args), comma_list(args["channel"]), cursor=args["cursor"],
                           limit=args["limit"])


@metrics_blp.route("/fulfillment-deviation", methods=["GET"])
@metrics_blp.arguments(DeviationArgs(), location="query")
@metrics_blp.response(200)
@metrics_blp.alt_response(422, description="bad threshold, bad range, a cursor this API did not give out")
@allow(*READERS, "warehouse")
def get_deviation(args: dict[str, Any]) -> Any:
    """Shipped minus promised ship time per order; late rates per channel, day and hour of
    promise, with the late orders (by promise time)."""
    threshold = DEFAULT_THRESHOLD_S
    if args["threshold"]:
        match = _DURATION.match(args["threshold"])
        assert match is not None
        threshold = int(match.group(1)) * _UNIT[match.group(2)]
    services = _services()
    with services.db.session() as session:
        return deviation_report(session, _range(args), comma_list(args["channel"]), threshold_s=threshold,
                                now=services.clock.now(), cursor=args["cursor"], limit=args["limit"])
