"""``orderpulse import FILE.csv|FILE.xlsx --mapping NAME [--dry-run]``: order history from a
platform's seller-centre export, through a published export mapping and the cleaning.

Shows progress on stderr and ends with the report (imported, updated, already stored, dropped
as test orders with the rule, refused with row, column and reason). Exit status 1 when the file
cannot be read or no published mapping has that name; refused rows do not change the status.
"""

from __future__ import annotations

import sys

import click

__all__ = ["import_command"]


@click.command("import")
@click.argument("file", metavar="FILE.csv|FILE.xlsx", type=click.Path(dir_okay=False, exists=True))
@click.option("--mapping", "mapping", required=True, help="the published export mapping, e.g. taobao_export")
@click.option("--dry-run", is_flag=True, help="report what would happen; store nothing")
def import_command(file: str, mapping: str, dry_run: bool) -> None:
    """Import order history from FILE with the published mapping NAME."""
    from engine.config import Settings
    from engine.errors import NotFound
    from engine.orders.importer import ImportFileError, import_file
    from engine.services import Services
    from engine.storage.migrate import upgrade

    services = Services.build(Settings.from_env())
    upgrade(services.db)
    labels = {"map": "映射", "store": "入库"}
    shown: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if shown.get(stage) != percent:
            shown[stage] = percent
            click.echo(f"\r{labels.get(stage, stage)} {done}/{total} ({percent}%)", err=True,
                       nl=done >= total)

    try:
        result = import_file(services, file, mapping=mapping, dry_run=dry_run, progress=progress)
    except (ImportFileError, NotFound) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        services.db.dispose()
    for line in result.lines():
        click.echo(line)
