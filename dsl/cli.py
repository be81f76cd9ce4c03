"""Command-line entry points for the language: ``check``, ``fmt`` and ``convert``.

This module owns the click commands only (argument handling, output, exit codes); the lead
registers them on the ``orderpulse`` group. All language work is delegated to :mod:`dsl`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import check_file, format_source, load_file, print_dsl, read_source, to_json_text
from .errors import RuleError

__all__ = ["check_command", "fmt_command", "convert_command"]


@click.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check_command(files: tuple[str, ...]) -> None:
    """Check rule files (.op or .json); list every error and exit 1 if there are any."""
    total = 0
    for file in files:
        diagnostics = check_file(file)
        for d in diagnostics:
            click.echo(d.format(), err=False)
        total += len(diagnostics)
    if total:
        click.echo(f"{total} error{'s' if total != 1 else ''} in {len(files)} "
                   f"file{'s' if len(files) != 1 else ''}", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(files)} file{'s' if len(files) != 1 else ''} checked")


@click.command("fmt")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--check", "check_only", is_flag=True,
              help="Do not rewrite; exit 1 if the file is not in canonical form.")
def fmt_command(file: str, check_only: bool) -> None:
    """Rewrite a .op file in canonical form, keeping its comments (a .json file is printed
    as canonical DSL)."""
    path = Path(file)
    current: str | None = None
    try:
        if path.suffix.lower() == ".json":
            canonical = print_dsl(load_file(path))
        else:
            current = read_source(path)
            canonical = format_source(current, file)
    except RuleError as exc:
        for d in exc.diagnostics:
            click.echo(d.format())
        sys.exit(1)
    if check_only:
        if current != canonical:
            click.echo(f"{file}: not in canonical form")
            sys.exit(1)
        click.echo(f"{file}: ok")
        return
    if current is None:
        click.echo(canonical, nl=False)
        return
    if current != canonical:
        path.write_text(canonical, encoding="utf-8")
        click.echo(f"{file}: reformatted")
    else:
        click.echo(f"{file}: unchanged")


@click.command("convert")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--to", "target", type=click.Choice(["json", "dsl"]), required=True,
              help="Output form, printed to standard output.")
def convert_command(file: str, target: str) -> None:
    """Print a ruleset file in the other form (JSON ⇄ DSL)."""
    try:
        ruleset = load_file(file)
    except RuleError as exc:
        for d in exc.diagnostics:
            click.echo(d.format())
        sys.exit(1)
    click.echo(to_json_text(ruleset) if target == "json" else print_dsl(ruleset), nl=False)
