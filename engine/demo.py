"""``orderpulse demo``: the embedded default with demo accounts, ready to click through."""

from __future__ import annotations

import os
from typing import Any

import click
from sqlalchemy import select

from engine.auth.users import create_user
from engine.inventory.demo import setup_inventory_demo
from engine.services import Services
from engine.serving import serve_app
from engine.storage.migrate import upgrade
from engine.storage.models import User

DEMO_PASSWORD = "orderpulse-demo"
DEMO_USERS = [
    ("admin", "admin", "管理员"),
    ("yunying", "ops", "运营小王"),
    ("cangchu", "warehouse", "仓储老李"),
    ("caiwu", "finance", "财务小陈"),
    ("kefu", "cs", "客服小张"),
    ("kefuzuzhang", "cs_lead", "客服组长刘姐"),
]


def ensure_demo_users(services: Services) -> None:
    with services.db.transaction() as s:
        for username, role, display in DEMO_USERS:
            if s.scalar(select(User).where(User.username == username)) is None:
                create_user(s, username, role, DEMO_PASSWORD, display_name=display, clock=services.clock)


def publish_demo_templates(services: Services) -> list[str]:
    """Import every ruleset template of the library and publish it once (idempotent)."""
    from engine.rulesets import service as rulesets
    from engine.storage.models import Ruleset
    from engine.templates import catalogue, import_template

    published = []
    for template in catalogue():
        if template.kind != "ruleset":
            continue
        with services.db.transaction(immediate=True) as s:
            row = s.scalar(select(Ruleset).where(Ruleset.name == template.name))
            if row is not None and row.latest_version > 0:
                continue
            if row is None:
                import_template(s, template.name, actor="admin", now=services.clock.now())
            rulesets.publish(s, template.name, actor="admin", now=services.clock.now(), note="demo")
            published.append(template.name)
    return published


def start_fake_counterparts() -> Any:
    """Local fake chat bots, SMS gateway and WMS; the templates' channel variables point at
    them unless the environment already names real ones."""
    from connectors.fakes import FakeCounterparts

    fakes = FakeCounterparts().start()
    for key, value in fakes.environment().items():
        os.environ.setdefault(key, value)
    return fakes


DEMO_LOG_FILE = "orderpulse-demo.log"
# The demo's own periodic jobs: the simulated warehouse and the console's story tail.
DEMO_JOBS = "engine.orders.demo_warehouse"


def demo_logging(*, log_json: bool, log_file: str = DEMO_LOG_FILE) -> None:
    """Short Chinese lines per order event on the console; the JSON logs go to ``log_file``,
    or to stderr with ``log_json``."""
    from engine.logs import configure_logging
    from engine.orders.console import attach_console

    if not log_json:
        configure_logging(stream=open(log_file, "a", encoding="utf-8"))  # noqa: SIM115 - lives as long as the demo
    attach_console()


def run_demo(services: Services, *, host: str, port: int, log_json: bool = False) -> None:
    demo_logging(log_json=log_json)
    if not log_json:
        click.echo(f"JSON logs: {DEMO_LOG_FILE} (or run with --log-json)")
    upgrade(services.db)
    ensure_demo_users(services)
    published = publish_demo_templates(services)
    if published:
        click.echo("published templates: " + ", ".join(published))
    fakes = start_fake_counterparts()
    click.echo("fake counterparts (企微/飞书/钉钉 bots, SMS, WMS, 六个平台的库存接口): "
               + ", ".join(f.url for f in fakes.all))
    setup_inventory_demo(services, fakes.platforms)
    push_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    producing = fakes.produce_orders(push_base_url=f"http://{push_host}:{port}", misconfigured_coupon_on="pdd")
    click.echo(f"  orders: {', '.join(producing)} produce about 3 orders a minute each (a burst now and then); "
               "OrderPulse pulls them every 60s (sources_six_channels) and takes 抖店's pushes at once")
    click.echo("  拼多多店的一张店铺券设错了（满300减50 误设为满30减50，可叠加）：这些订单核价后会标上“价格异常”")

    def ready(url: str) -> None:
        click.echo("")
        click.echo(f"OrderPulse demo running at {url}")
        click.echo(f"  login: admin / {DEMO_PASSWORD}   (other roles: "
                   + ", ".join(u for u, _, _ in DEMO_USERS[1:]) + ", same password)")
        click.echo(f"  health: {url}healthz   API: {url}api/v1/openapi.json")
        click.echo("")

    click.echo("  仓库（演示）：每分钟把已锁库存、待发货的订单发出几单（中通、圆通、韵达、顺丰 …），"
               "运单号经发件箱回传到各平台；控制台逐条讲述：入单、风控、核价、锁库存、开工单、发货、回传、取消、售后")
    serve_app(services, host=host, port=port, background=True, on_ready=ready, extra_jobs=[DEMO_JOBS])
