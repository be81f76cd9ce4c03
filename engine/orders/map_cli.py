"""``orderpulse map PAYLOAD.json --rules FILE... --mapping NAME [--json]``: one platform order
through a mapping and the cleaning declared in the same files, from the command line.

Prints the normalized order in short Chinese lines (or, with ``--json``, exactly the body of
``POST /api/v1/mappings/{name}/preview``). Each rules file is identified by its name (without
extension), no version and the sha256 of its content. Exit status 1 with the reason on stderr
for an unreadable payload or rules, an unknown mapping, or a payload the mapping refuses (the
payload path and the mapping line). Several files: ``--rules a.op --rules b.op`` or
``--rules a.op b.op``.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import click

__all__ = ["map_command"]


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _fen(value: Any) -> str:
    return "—" if not isinstance(value, int) else f"¥{value // 100}.{value % 100:02d}" if value >= 0 \
        else f"-¥{-value // 100}.{-value % 100:02d}"


def _render(body: dict[str, Any]) -> list[str]:
    from dsl.order_model import STATUS_LABELS

    order = body["order"]
    receiver = order.get("receiver") or {}
    region = "-".join(str(receiver.get(k)) for k in ("province", "city", "district") if receiver.get(k))
    status_label = STATUS_LABELS.get(order.get("status"), order.get("status"))
    lines = [
        f"订单 {order.get('channel')} {order.get('order_id')}  {status_label}",
        f"  下单 {order.get('created_at')}  付款 {order.get('paid_at')}  更新 {order.get('updated_at')}",
        f"  实付 {_fen((order.get('payment') or {}).get('paid_amount'))}  运费 {_fen(order.get('freight'))}",
        f"  收件人 {receiver.get('name') or '—'} {receiver.get('phone') or ''}  {region or '—'}"
        + (f" ({receiver['adcode']})" if receiver.get("adcode") else ""),
    ]
    for line in order.get("lines") or []:
        lines.append(f"  - {line.get('sku_id')} × {line.get('qty')}  单价 {_fen(line.get('unit_price'))}  "
                     f"金额 {_fen(line.get('amount'))}  实付 {_fen(line.get('paid_amount'))}  "
                     f"{line.get('title') or ''}")
    for refund in order.get("refunds") or []:
        lines.append(f"  售后 {refund.get('refund_id')} 行 {refund.get('line_id')} {refund.get('status') or ''}")
    dropped = body.get("dropped")
    if dropped:
        lines.append(f"已丢弃（清洗 {dropped['cleaning']} 第 {dropped['line']} 行）：{dropped['rule']}")
    lines += [f"注意：{note}" for note in body.get("notes") or []]
    return lines


@click.command("map")
@click.argument("payload_file", metavar="PAYLOAD.json", type=click.Path(dir_okay=False))
@click.argument("more_rules", nargs=-1, type=click.Path(dir_okay=False), metavar="")
@click.option("--rules", "rules_files", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="ruleset file (.op or .json) with the mapping and the cleaning; repeat or list several")
@click.option("--mapping", "mapping_name", required=True, help="the mapping to run (e.g. taobao)")
@click.option("--json", "as_json", is_flag=True, help="print the preview body exactly as the API returns it")
def map_command(payload_file: str, more_rules: tuple[str, ...], rules_files: tuple[str, ...],
                mapping_name: str, as_json: bool) -> None:
    """Map PAYLOAD.json (a platform order as its detail API returns it) with --mapping and
    clean it with the cleanings of the --rules files."""
    from .mapping import MappingFailure
    from .preview import (
        RulesInvalid,
        RulesText,
        UnknownMapping,
        order_rules,
        preview_body,
        preview_json,
    )

    try:
        payload = json.loads(Path(payload_file).read_bytes().decode("utf-8"), parse_float=Decimal)
    except OSError as exc:
        _fail(f"{payload_file}: cannot read: {exc.strerror}")
    except UnicodeDecodeError as exc:
        _fail(f"{payload_file}: not UTF-8 ({exc.reason} at byte {exc.start})")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, an integer of > 4300 digits
        _fail(f"{payload_file}: not JSON: {exc or 'nested too deeply'}")
    texts = []
    for name in (*rules_files, *more_rules):
        path = Path(name)
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}")
        texts.append(RulesText(content, path.stem, "json" if path.suffix.lower() == ".json" else "dsl",
                               filename=name))
    try:
        body = preview_body(order_rules(texts), mapping_name, payload)
    except RulesInvalid as exc:
        _fail(exc.format())
    except UnknownMapping as exc:
        _fail(str(exc))
    except MappingFailure as exc:
        _fail(f"{payload_file}: {exc}")
    if as_json:
        click.echo(preview_json(body))
        return
    for line in _render(body):
        click.echo(line)
