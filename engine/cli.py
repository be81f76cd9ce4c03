"""The ``orderpulse`` command line: serve, worker, demo, db, users, and the language tools."""

from __future__ import annotations

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
@click.option("--role", required=True, help="admin/ops/warehouse/finance/cs/cs_lead or 管理员/运营/仓储/财务/客服/客服组长")
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
    from engine.orders.import_cli import import_command
    from engine.orders.map_cli import map_command
    from engine.pricing.cli import price_command
    from engine.templates import templates_cli

    main.add_command(check_command, "check")
    main.add_command(fmt_command, "fmt")
    main.add_command(convert_command, "convert")
    main.add_command(templates_cli, "templates")
    main.add_command(price_command, "price")
    main.add_command(import_command, "import")
    main.add_command(map_command, "map")


_register_area_commands()


if __name__ == "__main__":
    main()
