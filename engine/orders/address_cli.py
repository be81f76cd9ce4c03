"""``orderpulse address TEXT... [--json]``: resolve addresses to regions from the command line.

Each TEXT (or, for ``-``, each non-blank line of standard input) is resolved with the shipped
division table (:func:`engine.orders.regions.default_resolver`). Text output is one
tab-separated line per address: input, province, city, district, adcode, lat, lng (empty
columns when not even a province can be told). ``--json`` prints a list of objects with the
keys ``input, province, city, district, adcode, lat, lng`` (null when unresolved). Exit status
1 when any address could not be resolved (all are still printed), else 0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import click

from engine.orders.ports import Region
from engine.orders.regions import default_resolver

__all__ = ["address_command", "region_row"]

KEYS = ("province", "city", "district", "adcode", "lat", "lng")


def region_row(text: str, region: Region | None) -> dict[str, Any]:
    """The ``--json`` object for one address."""
    row: dict[str, Any] = {"input": text}
    for key in KEYS:
        row[key] = getattr(region, key) if region is not None else None
    return row


def _inputs(texts: tuple[str, ...]) -> Iterator[str]:
    for text in texts:
        if text == "-":
            for line in sys.stdin:
                if line.strip():
                    yield line.strip()
        else:
            yield text


@click.command("address")
@click.argument("texts", metavar="TEXT...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of {input, province, city, district, "
                                                      "adcode, lat, lng}")
def address_command(texts: tuple[str, ...], as_json: bool) -> None:
    """Resolve each address TEXT (or - for one per line on stdin) to province, city, district,
    adcode and centroid."""
    resolver = default_resolver()
    rows = [region_row(text, resolver.resolve(text)) for text in _inputs(texts)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            click.echo("\t".join("" if row[k] is None else str(row[k]) for k in ("input", *KEYS)))
    unresolved = sum(1 for row in rows if row["province"] is None)
    if unresolved:
        click.echo(f"{unresolved} of {len(rows)} addresses not recognised (no province found)", err=True)
        sys.exit(1)
