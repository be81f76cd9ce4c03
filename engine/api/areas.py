"""The list of API blueprints, one per area. Add an area's blueprint here."""

from __future__ import annotations

from flask_smorest import Blueprint


def api_blueprints() -> list[Blueprint]:
    from engine.alerts.routes import blp as alerts_blp
    from engine.analytics.routes import analytics_blp, metrics_blp
    from engine.auth.routes import blp as users_blp
    from engine.inventory.routes import blp as stock_blp
    from engine.orders.hold_routes import blp as order_holds_blp
    from engine.orders.preview_routes import blp as mappings_blp
    from engine.orders.push_routes import blp as order_push_blp
    from engine.orders.routes import blp as orders_blp
    from engine.orders.ship_routes import blp as order_shipping_blp
    from engine.outbox.routes import blp as outbox_blp
    from engine.pricing.routes import blp as pricing_blp
    from engine.risk.routes import blp as risk_blp
    from engine.rulesets.routes import blp as rulesets_blp
    from engine.templates import blp as templates_blp
    from engine.workflow.routes import blueprints as workflow_blueprints

    return [orders_blp, order_holds_blp, order_shipping_blp, order_push_blp, outbox_blp, pricing_blp, risk_blp,
            rulesets_blp, stock_blp, templates_blp, mappings_blp, users_blp, analytics_blp, metrics_blp,
            *workflow_blueprints(), alerts_blp]
