"""``orderpulse price ORDER.json --rules FILE [--json]``: price one order from the command line.

Prints the per-line breakdown and the audit log in Chinese; with ``--json`` prints exactly the
quote body of ``POST /api/v1/pricing/quote`` (same bytes). The ruleset is identified in the
quote by the file's name (without extension), no version (a dry run) and the sha256 of its
content. Exit status 1 on an unreadable order or rules, with every problem on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

__all__ = ["price_command"]


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@click.command("price")
@click.argument("order_file", metavar="ORDER.json", type=click.Path(dir_okay=False))
@click.option("--rules", "rules_file", required=True, type=click.Path(dir_okay=False),
              help="ruleset file (.op DSL or .json) holding the promotion")
@click.option("--promotion", default=None, help="which promotion of the file (default: its only one)")
@click.option("--json", "as_json", is_flag=True, help="print the quote body exactly as the API returns it")
def price_command(order_file: str, rules_file: str, promotion: str | None, as_json: bool) -> None:
    """Price ORDER.json (a normalized order, money in fen) with the promotion in --rules."""
    from .loading import RulesInvalid, plan_from_content, quote_json
    from .log_text import render_breakdown, render_log
    from .order_input import OrderInvalid, read_order
    from .quote import quote_priced_order

    try:
        order = json.loads(Path(order_file).read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"{order_file}: cannot read: {exc.strerror}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{order_file}: not a JSON order: {exc}")
    try:
        content = Path(rules_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{rules_file}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    path = Path(rules_file)
    fmt = "json" if path.suffix.lower() == ".json" else "dsl"
    try:
        po = read_order(order)
    except OrderInvalid as exc:
        _fail("\n".join(f"{order_file}:{d['path'] or '/'}: {d['message']}" for d in exc.details))
    try:
        plan = plan_from_content(content, name=path.stem, fmt=fmt, promotion=promotion,
                                 filename=str(rules_file))
    except RulesInvalid as exc:
        _fail(exc.format())
    body = quote_priced_order(plan, po)
    if as_json:
        click.echo(quote_json(body))
        return
    click.echo(render_breakdown(body))
    click.echo("")
    click.echo("计算过程：")
    for line in render_log(body["log"]):
        click.echo(f"  {line}")
