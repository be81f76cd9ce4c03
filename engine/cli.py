"""The ``orderpulse`` command line: serve, worker, demo, db, users, and the language tools."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from engine.config import Settings
from engine.logs import configure_logging


def _services() -> Any:
    from engine.services import Services

    return Services.build(Settings.from_env())


@click.group()
def main() -> None:
    """OrderPulse 订单规则引擎 command line."""
    configure_logging()


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from engine.storage.migrate import upgrade

    services = _services()
    upgrade(services.db, revision)
    click.echo(f"database at {revision}")


@main.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True,
              help="admin/ops/warehouse/finance/cs/cs_lead or 管理员/运营/仓储/财务/客服/客服组长")
@click.option("--password", default=None)
@click.option("--token", "with_token", is_flag=True, help="also print a new API token")
def users_create(name: str, role: str, password: str | None, with_token: bool) -> None:
    """Create user NAME with ROLE."""
    from engine.auth.users import create_user, issue_token
    from engine.errors import ApiError
    from engine.storage.migrate import upgrade

    services = _services()
    upgrade(services.db)
    try:
        with services.db.transaction() as s:
            user = create_user(s, name, role, password, clock=services.clock)
            token = issue_token(s, user, name="cli") if with_token else None
    except ApiError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    click.echo(f"created user {user.username} ({user.role})")
    if token:
        click.echo(token)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-background", is_flag=True, help="do not run the outbox dispatcher and scheduler here")
def serve(host: str, port: int, threads: int, no_background: bool) -> None:
    """Serve the API and builder; on SQLite also runs the dispatcher and scheduler in-process."""
    from engine.serving import serve_app

    serve_app(_services(), host=host, port=port, threads=threads, background=not no_background)


@main.command()
def worker() -> None:
    """Run the outbox dispatcher and scheduler (several may run at once on PostgreSQL)."""
    from engine.runner import run_worker

    run_worker(_services())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--log-json", is_flag=True, help="JSON logs on stderr instead of orderpulse-demo.log")
def demo(host: str, port: int, log_json: bool) -> None:
    """Start the demo on the embedded default: demo users, templates, and the server."""
    from engine.demo import run_demo

    run_demo(_services(), host=host, port=port, log_json=log_json)


def _register_area_commands() -> None:
    from dsl.cli import check_command, convert_command, fmt_command
    from engine.orders.address_cli import address_command
    from engine.orders.import_cli import import_command
    from engine.orders.map_cli import map_command
    from engine.pricing.cli import price_command
    from engine.templates import templates_cli

    main.add_command(check_command, "check")
    main.add_command(fmt_command, "fmt")
    main.add_command(convert_command, "convert")
    main.add_command(templates_cli, "templates")
    main.add_command(price_command, "price")
    main.add_command(address_command, "address")
    main.add_command(import_command, "import")
    main.add_command(map_command, "map")


_register_area_commands()


@main.command()
@click.option("--orders", type=int, default=None, help="orders in the day (default: the scenario's)")
@click.option("--speed", type=float, default=100.0, show_default=True, help="how many times faster than real time")
@click.option("--scenario", "scenario_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="scenario TOML (default: scenarios/peak_day.toml)")
@click.option("--faults", default="all", show_default=True,
              help="comma list of fault kinds to apply from the scenario's timeline, 'all' or 'none'")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default="drill-report", show_default=True)
@click.option("--database-url", default=None,
              help="postgresql://… to drill PostgreSQL (a private schema, dropped after)")
@click.option("--redis-url", default=None, help="redis://… or 'private' (a redis-server the drill starts and restarts)")
@click.option("--serve", "serves", type=int, default=1, show_default=True, help="`orderpulse serve` processes")
@click.option("--workers", type=int, default=0, show_default=True,
              help="`orderpulse worker` processes (0: the runner in the serve process; needs PostgreSQL)")
@click.option("--settle", type=float, default=None, help="at most this many seconds to drain after the day")
@click.option("--seed", type=int, default=20261111, show_default=True)
@click.option("--keep", is_flag=True, help="keep the work folder (database, logs) after the drill")
def drill(orders: int | None, speed: float, scenario_file: str | None, faults: str, report_dir: str,
          database_url: str | None, redis_url: str | None, serves: int, workers: int, settle: float | None,
          seed: int, keep: bool) -> None:
    """The peak-day drill: replay a festival day against the fake platforms, with faults, and
    report whether OrderPulse held (exit 1 when a must-be-0 measure is not 0)."""
    import base64
    import secrets
    from pathlib import Path

    from connectors.dingtalk import DingTalkCrypto, FakeDingTalkApproval
    from connectors.fakes import (
        FakeCounterparts,
        douyin_orders,
        kuaishou_orders,
        miniprogram_orders,
        pdd_orders,
        taobao_orders,
        xiaohongshu_orders,
    )
    from engine.drill.run import Counterparts, DrillOptions, run_drill
    from engine.drill.scenario import FAULT_KINDS, ScenarioError, load_scenario

    try:
        scenario = load_scenario(scenario_file, orders=orders)
    except ScenarioError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    kinds = None if faults == "all" else frozenset() if faults == "none" else frozenset(faults.split(","))
    if kinds and not kinds <= set(FAULT_KINDS):
        click.echo(f"error: --faults: unknown kind {', '.join(sorted(kinds - set(FAULT_KINDS)))}", err=True)
        sys.exit(2)
    def platform_order_id(channel: str, order: Any) -> str:  # the platform's id of a fake shop's order
        return str({"taobao": taobao_orders.tid_of, "pdd": pdd_orders.order_sn, "douyin": douyin_orders.order_id_of,
                    "kuaishou": lambda o: kuaishou_orders.oid_of(o, o.lines[0]),
                    "xiaohongshu": xiaohongshu_orders.order_id_of,
                    "miniprogram": miniprogram_orders.out_trade_no_of}[channel](order))

    token, aes_key = secrets.token_hex(8), base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    counterparts = Counterparts(FakeCounterparts().start(), platform_order_id,
                                FakeDingTalkApproval(DingTalkCrypto(token, aes_key)),
                                {"DINGTALK_CALLBACK_TOKEN": token, "DINGTALK_AES_KEY": aes_key})
    progress = (lambda line: click.echo("\r" + line[:160], nl=False)) if sys.stdout.isatty() else click.echo

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # a drill stopped by SIGTERM stops its processes as on Ctrl-C

    signal.signal(signal.SIGTERM, interrupted)
    try:
        report = run_drill(scenario, DrillOptions(
            speed=speed, database_url=database_url, redis_url=redis_url, serves=serves, workers=workers,
            report_dir=Path(report_dir), faults=kinds, seed=seed, settle_seconds=settle, keep=keep),
            counterparts, echo=click.echo, progress=progress)
    finally:
        counterparts.fakes.stop()
    sys.exit(1 if report["failed"] else 0)


if __name__ == "__main__":
    main()
