"""The indexes the analytics queries read the order store through.

Owns index definitions only (created by migration ``0015_risk_analytics``): the orders of a
time range with the columns every heatmap and map figure groups by (channel, district code,
dropped or not), so those queries read the index alone and never the order documents.
"""

from __future__ import annotations

from sqlalchemy import Index

from engine.orders.model import Order

__all__ = ["ORDERS_BY_TIME_AND_PLACE"]

ORDERS_BY_TIME_AND_PLACE = Index("ix_orders_analytics", Order.created_at, Order.channel, Order.adcode,
                                 Order.dropped_by)
