"""Inventory use cases: the Redis gate (when configured) in front of the SQL authority.

Flow per reservation: gate holds every line (fast "sold out") → SQL reserves (authority) →
the hold is committed, or released when SQL refuses, fails or answers a replay. A gate
"sold out" is confirmed against SQL's idempotency record (one indexed read) so a replay the
gate has forgotten still gets its first answer. Short at the gate only because of other
pending holds: SQL decides (``"gate": "deferred"``) and the gate is moved after the commit.
Redis down, rebuilding or missing a SKU: SQL alone decides, the answer says
``"gate": "bypassed"`` and an alert is raised (log + outbox row, at most once per kind every
``ALERT_EVERY`` seconds per process). Also: channel quota/buffer declarations and the
per-channel view of a SKU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.clock import Clock
from engine.inventory.channels import (
    ALL_SKUS,
    CHANNELS,
    ChannelRule,
    channel_figure,
    rules_of_sku,
    upsert_setting,
)
from engine.inventory.domain import (
    InsufficientStock,
    OrderLine,
    Outcome,
    available_of,
    merge_lines,
)
from engine.inventory.gate import GateAnswer, RedisGate
from engine.inventory.models import (
    ChannelPush,
    ChannelSnapshot,
    StockItem,
)
from engine.inventory.push import mark_all, mark_changed
from engine.inventory.sql_store import InventoryStore
from engine.logs import get_logger
from engine.outbox import enqueue
from engine.storage.db import Database

if TYPE_CHECKING:
    from engine.config import Settings
    from engine.services import Services

log = get_logger(__name__)

ALERT_TOPIC = "inventory.alert"
# What the answer's "gate" says: passed (held by the gate), refused (sold out at the gate),
# deferred (the gate could not tell because of other pending holds; SQL decided), bypassed
# (Redis down, rebuilding or missing the SKU; SQL decided), none (no gate configured).
_GATE_LABEL = {"ok": "passed", "replay": "passed", "unsure": "deferred", "bypass": "bypassed"}
ALERT_EVERY = 30.0
GATE_SOCKET_TIMEOUT = 0.5
BREAKER_SECONDS = 1.0
UNMARKED_LIMIT = 10_000
FLUSH_EVERY_SECONDS = 0.5


def make_gate_client(redis_url: str, *, timeout: float = GATE_SOCKET_TIMEOUT) -> Any:
    """A client with a short timeout that retries once on a dropped connection (never on a
    timeout: a stalled Redis is bypassed, not waited for). A retried script is safe: the
    gate's scripts are idempotent by key."""
    import redis as redis_lib
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    return redis_lib.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                    decode_responses=True, health_check_interval=0,
                                    retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)))


class InventoryService:
    """Entry point for the API, CLI, demo and tests. One per process (see :func:`inventory_for`)."""

    def __init__(self, db: Database, clock: Clock, gate: RedisGate | None = None) -> None:
        self.db = db
        self.clock = clock
        self.store = InventoryStore(db, clock)
        self.gate = gate
        self._breaker_until = 0.0
        self._last_alert: dict[str, float] = {}
        self.alerts_raised = 0
        # Keys SQL accepted while Redis could not be reached: marked seen once it answers again
        # (the reconciler's catch-up marks them too, should this process die first).
        self._unmarked: list[str] = []
        self._unmarked_lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    # -- gate bookkeeping ---------------------------------------------------------------------
    def _gate_hold(self, key: str, lines: list[OrderLine]) -> GateAnswer:
        if self.gate is None:
            return GateAnswer("none")
        if time.monotonic() < self._breaker_until:
            return GateAnswer("bypass", reason="breaker_open")
        if self._unmarked:
            self._flush_unmarked()  # before any answer: a replay of one of them must be seen
        answer = self.gate.hold(key, lines)
        if answer.verdict == "bypass":
            if answer.reason.startswith("redis_error"):
                self._breaker_until = time.monotonic() + BREAKER_SECONDS
            elif answer.reason == "no_epoch":
                self.ensure_gate()
            if answer.reason != "sku_not_cached":
                self.raise_alert("gate_bypassed", {"reason": answer.reason})
        return answer

    def _flush_unmarked(self) -> bool:
        """Mark the waiting keys; they leave the list only once Redis has them, and the lock is
        held meanwhile, so no gate answer in this process overtakes a mark. True when none wait."""
        with self._unmarked_lock:
            if self._unmarked and self.gate.mark_seen(self._unmarked):  # type: ignore[union-attr]
                self._unmarked.clear()
            return not self._unmarked

    def _mark_bypassed(self, key: str, reason: str) -> None:
        """SQL accepted ``key`` without a gate hold: the gate must know the key was seen. While
        Redis cannot be reached the key waits in this process, and a background flusher marks
        it as soon as Redis answers (so a replay sent to another process finds it); should the
        process die first, the reconciler's catch-up marks it."""
        if not reason.startswith("redis_error") and reason != "breaker_open" and \
                self.gate.mark_seen([key]):  # type: ignore[union-attr]
            return
        with self._unmarked_lock:
            if len(self._unmarked) >= UNMARKED_LIMIT:
                log.warning("inventory gate: too many keys waiting to be marked seen; the reconciler marks the rest",
                            key=key, waiting=len(self._unmarked))
                return
            self._unmarked.append(key)
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(target=self._flush_until_done, name="inventory-seen-flusher",
                                                 daemon=True)
                self._flusher.start()

    def _flush_until_done(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY_SECONDS)
            if self._flush_unmarked():
                return

    def ensure_gate(self) -> str | None:
        """Rebuild the gate from SQL when its epoch is missing or Redis restarted; returns the epoch."""
        if self.gate is None:
            return None
        try:
            self.gate.load_scripts()
            if self.gate.needs_rebuild():
                return self.gate.rebuild(self.store.all_available, self.store.reserve_keys_after)
            return self.gate.current_epoch()
        except Exception as exc:  # noqa: BLE001 - Redis trouble: SQL keeps deciding
            log.warning("inventory gate rebuild failed", error=str(exc))
            return None

    def raise_alert(self, kind: str, detail: dict[str, Any]) -> bool:
        """Log and queue an ``inventory.alert`` outbox row, at most one per kind every
        ``ALERT_EVERY`` seconds per process; ``engine.inventory.alert_delivery`` sends it to
        the configured alert channel."""
        log.warning("inventory alert", kind=kind, **detail)
        now = time.monotonic()
        if now - self._last_alert.get(kind, -1e9) < ALERT_EVERY:
            return False
        self._last_alert[kind] = now
        try:
            at = self.clock.now()
            with self.db.transaction() as s:
                enqueue(s, ALERT_TOPIC, {"kind": kind, **detail, "raised_at": at.isoformat()}, now=at,
                        source="inventory")
            self.alerts_raised += 1
            return True
        except Exception as exc:  # noqa: BLE001 - an alert must never break the sale
            log.warning("inventory alert not queued", error=str(exc))
            return False

    # -- operations ---------------------------------------------------------------------------
    def reserve(self, order_id: str, lines: Iterable[OrderLine | Mapping[str, Any]], *, key: str | None = None,
                channel: str = "", actor: str = "") -> Outcome:
        merged = merge_lines(lines)
        key = key or order_id
        gate = self._gate_hold(key, merged)
        if gate.verdict == "short":
            # A key the gate may have seen accepted (its hold marker may have expired) is
            # confirmed with SQL, so a replay gets its first answer; a key it has certainly
            # never seen is refused by the gate alone.
            if gate.seen:
                prior = self.store.hot.stored_answer("reserve", key)
                if prior is not None:
                    return Outcome("reserve", key, prior, replayed=True, gate="deferred")
            raise InsufficientStock(gate.short or [], gate="refused")
        held = gate.verdict in ("ok", "replay")
        label = _GATE_LABEL.get(gate.verdict, "none")
        try:
            outcome = self.store.reserve(order_id, merged, key=key, channel=channel, actor=actor)
        except InsufficientStock as exc:
            if held:
                self.gate.release_hold(key)  # type: ignore[union-attr]
            exc.gate = label
            raise
        except BaseException:
            if held:
                self.gate.release_hold(key)  # type: ignore[union-attr]
            raise
        if gate.verdict == "ok" and outcome.replayed:
            self.gate.release_hold(key)  # type: ignore[union-attr]
        elif held and not outcome.replayed:
            # This call's SQL took the reservation: the key's hold becomes it. The hold may be
            # gone already — a concurrent call with the same key placed it, lost the race in SQL
            # (a replay for it) and let go of it first — and then the gate mirrors the reservation
            # instead, once per key, as for a reservation SQL took without a hold.
            if self.gate.commit_hold(key) is False:  # type: ignore[union-attr]
                self._mirror_reserve(key, merged)
        elif gate.verdict == "unsure" and not outcome.replayed:  # SQL took it without a hold: mirror it
            self._mirror_reserve(key, merged)
        elif gate.verdict == "bypass" and not outcome.replayed:
            self._mark_bypassed(key, gate.reason)
        outcome.gate = label
        return outcome

    def _mirror_reserve(self, key: str, lines: list[OrderLine]) -> None:
        """Apply a reservation SQL took to the gate's counters (once per key) and mark its key seen."""
        mirrored = self.gate.apply_delta(f"reserve:{key}",  # type: ignore[union-attr]
                                         {ln.sku_id: -ln.qty for ln in lines}, seen_key=key)
        if mirrored not in ("ok", "replay"):  # the mark may be missing too: keep trying
            self._mark_bypassed(key, "redis_error")

    def release(self, order_id: str, *, key: str | None = None, actor: str = "") -> Outcome:
        outcome = self.store.release(order_id, key=key, actor=actor)
        deltas: dict[str, int] = {}
        for line in outcome.body.get("released", []):
            deltas[line["sku_id"]] = deltas.get(line["sku_id"], 0) + line["qty"]
        return self._mirror(outcome, "release", deltas)

    def ship(self, order_id: str, lines: Iterable[OrderLine | Mapping[str, Any]] | None = None, *,
             key: str | None = None, actor: str = "") -> Outcome:
        outcome = self.store.ship(order_id, lines, key=key, actor=actor)
        outcome.gate = "none" if self.gate is None else "passed"
        return outcome  # shipping leaves availability unchanged: nothing to mirror

    def adjust(self, sku_id: str, delta: int, reason: str, *, key: str | None = None, actor: str = "") -> Outcome:
        outcome = self.store.adjust(sku_id, delta, reason, key=key, actor=actor)
        return self._mirror(outcome, "adjust", {sku_id: delta})

    def set_safety(self, sku_id: str, safety: int, *, key: str | None = None, actor: str = "") -> Outcome:
        """Change the safety stock; the gate's counter moves by the change in availability."""
        outcome = self.store.set_safety(sku_id, safety, key=key, actor=actor)
        change = outcome.body.get("previous_safety_stock", safety) - safety
        return self._mirror(outcome, "safety", {sku_id: change} if change else {})

    def _mirror(self, outcome: Outcome, op: str, deltas: dict[str, int]) -> Outcome:
        if self.gate is None:
            return outcome
        if outcome.replayed:
            outcome.gate = "passed"
            return outcome
        result = self.gate.apply_delta(f"{op}:{outcome.key}", deltas)
        outcome.gate = "passed" if result in ("ok", "replay", "noop") else "bypassed"
        return outcome

    def get(self, sku_id: str) -> dict[str, Any] | None:
        return self.store.get(sku_id)

    # -- channels -----------------------------------------------------------------------------
    def set_channel_rule(self, sku_id: str, channel: str, *, quota: int | None, buffer: int | None,
                         actor: str = "") -> dict[str, Any]:
        """Declare what ``channel`` is shown of ``sku_id`` (``'*'``: the channel's default) and
        queue new figures for the SKUs it affects."""
        now = self.clock.now()
        with self.db.transaction(immediate=True) as s:
            stored = upsert_setting(s, channel, sku_id, quota, buffer, actor=actor, now=now)
            if sku_id == ALL_SKUS:
                mark_all(s, now)
            else:
                version = s.execute(select(StockItem.version).where(StockItem.sku_id == sku_id)).scalar()
                if version is not None:
                    mark_changed(s, [(sku_id, version)], now)
        return stored

    def channel_view(self, sku_id: str) -> list[dict[str, Any]]:
        """Per channel: the declared rule, the figure it would be shown now, what was queued
        and pushed, and its last snapshot."""
        with self.db.session() as s:
            item = s.get(StockItem, sku_id)
            available = 0 if item is None else available_of(item.total_stock, item.reserved_stock, item.safety_stock)
            pushes = {r.channel: r for r in s.scalars(select(ChannelPush).where(ChannelPush.sku_id == sku_id))}
            snaps = {r.channel: r for r in s.scalars(select(ChannelSnapshot).where(ChannelSnapshot.sku_id == sku_id))}
            rules, declared = rules_of_sku(s, sku_id)
            out = []
            for channel in sorted(set(CHANNELS) | set(pushes) | set(snaps) | declared):
                rule = rules.get(channel, ChannelRule())
                push, snap = pushes.get(channel), snaps.get(channel)
                out.append({
                    "channel": channel, "quota": rule.quota, "buffer": rule.buffer,
                    "figure": channel_figure(available, rule),
                    "queued_version": push.queued_version if push else None,
                    "pushed_version": push.pushed_version if push else None,
                    "pushed_available": push.pushed_available if push else None,
                    "pushed_at": push.pushed_at.isoformat() if push and push.pushed_at else None,
                    "reported_stock": snap.reported_stock if snap else None,
                    "available_at_pull": snap.available_at_pull if snap else None,
                    "pulled_at": snap.pulled_at.isoformat() if snap else None,
                })
        return out

    def close(self) -> None:
        """Give back the connections the reservation path keeps between calls."""
        self.store.hot.close()


def build_inventory(settings: Settings, db: Database, clock: Clock) -> InventoryService:
    """A new inventory service (with the Redis gate when Redis is configured); a process keeps
    one, ``Services.inventory``."""
    gate = None
    if settings.redis_url:
        gate = RedisGate(make_gate_client(settings.redis_url), settings.redis_prefix)
    found = InventoryService(db, clock, gate)
    found.ensure_gate()
    return found


def inventory_for(services: Services) -> InventoryService:
    """The process's inventory service (``Services.inventory``)."""
    return services.inventory
