"""The ``then …`` effects of an action or a deadline handler, applied inside the transition's
own transaction.

Outside effects (chat notifications, SMS, connector calls such as ``wms.outbound``) become
outbox rows, delivered later with the declared retries; the secrets of the channel travel as
``env`` references, never as values (a notification's body is built by
:mod:`engine.notifications`, shared with the inventory's alerts). ``archive finance_voucher``
writes the voucher row in the same transaction (it is our own table, so it commits exactly
once with the transition); ``set`` changes the ticket's data; ``open M`` starts a ticket on
machine M of the same ruleset version. This module decides nothing about whether an action
is allowed.

On the hot path the rows are written with prepared Core ``INSERT`` statements, all outbox rows
of one step in a single statement; an outbox row carries exactly the columns
:func:`engine.outbox.enqueue` would give it (built by :func:`engine.outbox.service.outbox_values`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert
from sqlalchemy.orm import Session

from dsl import model as m
from engine.notifications import declared_settings, notify_body, notify_topic
from engine.outbox.service import outbox_values
from engine.workflow.machine import CompiledAction, CompiledMachine
from engine.workflow.models import FinanceVoucher
from engine.workflow.registry import MachineRegistry
from engine.workflow.stepwrite import Prepared, insert_outbox
from engine.workflow.tickets import open_ticket_in

_VOUCHER_INSERT = Prepared(insert(cast(Table, FinanceVoucher.__table__)))


@dataclass
class EffectRows:
    """Rows the effects of one step write: outbox messages and finance vouchers. A transition
    writes them after its version check succeeded, so a lost race never reaches their constraints."""

    outbox: list[dict[str, Any]] = field(default_factory=list)
    vouchers: list[dict[str, Any]] = field(default_factory=list)

    def write(self, conn: Connection) -> None:
        insert_outbox(conn, self.outbox)
        for voucher in self.vouchers:
            _VOUCHER_INSERT.execute(conn, voucher)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_\u4e00-\u9fff][\w.\u4e00-\u9fff]*)\}")


def render_message(template: str, env: dict[str, Any]) -> str:
    """Fill ``{field}`` placeholders from the ticket (unknown placeholders stay as written)."""

    def _sub(match: re.Match[str]) -> str:
        value: Any = env
        for part in match.group(1).split("."):
            value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                return match.group(0)
        return str(value)

    return _PLACEHOLDER.sub(_sub, template)


def unreachable_phone(to: Any) -> bool:
    """Whether an SMS recipient cannot be texted: none given, or masked by the platform."""
    return not str(to or "").strip() or "*" in str(to)


def apply_effects(
    session: Session,
    compiled: CompiledMachine,
    holder: CompiledAction,
    effects: tuple[m.Effect, ...],
    *,
    instance_id: int,
    seq: int,
    data: dict[str, Any],
    env: dict[str, Any],
    payload: dict[str, Any],
    actor: str,
    now: datetime,
    registry: MachineRegistry | None = None,
    rows: EffectRows | None = None,
) -> list[dict[str, Any]]:
    """Apply ``effects`` in order; ``data`` is updated in place by ``set``. A summary of each
    effect is returned for the history row. The outbox and voucher rows are written before
    returning, or, when ``rows`` is given, collected there for the caller to write."""
    done: list[dict[str, Any]] = []
    collected = rows if rows is not None else EffectRows()
    outbox = collected.outbox
    label = compiled.label
    source = f"workflow:{compiled.name}:{instance_id}:{seq}"
    base = {"instance_id": instance_id, "machine": compiled.name, "action": holder.name,
            "seq": seq, "actor": actor}
    for i, effect in enumerate(effects):
        if isinstance(effect, m.Notify):
            channel = compiled.channels.get(effect.channel)
            topic = notify_topic(channel)
            to = holder.to_values[i](env) if i in holder.to_values else None
            if channel is not None and channel.type == "sms" and unreachable_phone(to):
                # a marketplace gives us the buyer's phone masked (138****0000) or not at all: no
                # gateway can text it (the platform tells its buyer itself); said in the history
                # instead of a dead letter per order
                done.append({"effect": "notify", "channel": effect.channel, "topic": topic,
                             "skipped": "recipient_masked" if to else "no_recipient"})
                continue
            body = notify_body(effect.channel, channel, render_message(effect.message, env), to=to, context=base)
            outbox.append(outbox_values(topic, body, now=now, source=source, ruleset_version=label))
            done.append({"effect": "notify", "channel": effect.channel, "topic": topic})
        elif isinstance(effect, m.CallEffect):
            channel = compiled.channels.get(effect.target)
            kind = channel.type if channel else effect.target
            args = [a(env) for a in holder.call_args.get(i, [])]
            topic = f"call.{kind}.{effect.operation}"
            body = {**base, "target": effect.target, "operation": effect.operation, "args": args,
                    "settings": declared_settings(channel)}
            outbox.append(outbox_values(topic, body, now=now, source=source, ruleset_version=label))
            done.append({"effect": "call", "topic": topic})
        elif isinstance(effect, m.Archive):
            if effect.target == "finance_voucher":
                collected.vouchers.append({
                    "instance_id": instance_id, "seq": seq, "machine": compiled.name, "action": holder.name,
                    "ruleset_version": label, "data": dict(data), "payload": payload, "created_at": now})
            else:
                outbox.append(outbox_values(f"archive.{effect.target}", {**base, "data": dict(data)}, now=now,
                                         source=source, ruleset_version=label))
            done.append({"effect": "archive", "target": effect.target})
        elif isinstance(effect, m.SetField):
            value = holder.set_values[i](env)
            data[effect.field] = value
            env[effect.field] = value
            done.append({"effect": "set", "field": effect.field})
        elif isinstance(effect, m.OpenTicket):
            if registry is None:
                raise ValueError("an `open` effect needs the machine registry")
            opened = open_ticket_in(session, registry, compiled, effect.machine, data, actor=actor,
                                    now=now)
            done.append({"effect": "open", "machine": effect.machine, "instance_id": opened})
    if rows is None and (collected.outbox or collected.vouchers):
        collected.write(session.connection())
    return done
