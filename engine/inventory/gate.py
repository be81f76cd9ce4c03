"""The Redis admission gate in front of SQL: fast "sold out" for the crowd, never the record.

Owns the gate's keys (all under ``settings.redis_prefix`` with the ``{inv}`` hash tag), the
epoch, holds, the filter of reservation keys seen (so a "sold out" for a new key needs no SQL
read), and the rebuild from SQL. Any Redis error makes the caller bypass the gate;
nothing here decides a reservation on its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import redis as redis_lib
from redis.exceptions import RedisError

from engine.inventory import gate_scripts
from engine.inventory.domain import OrderLine
from engine.logs import get_logger

log = get_logger(__name__)

COMMITTED_HOLD_TTL = 24 * 3600
REBUILD_BATCH = 500
KEY_BATCH = 5000
# read_keys(after_id, limit) -> (accepted reservation keys with request id > after_id, in id
# order, at most limit; the last one's id, or after_id when none)
KeyReader = Callable[[int, int], tuple[list[str], int]]


@dataclass
class GateAnswer:
    verdict: str  # ok | replay | short | unsure (SQL decides, nothing held) | bypass
    short: list[dict[str, Any]] | None = None
    reason: str = ""
    seen: bool = True  # with "short": the key may have been accepted before (confirm with SQL)


class RedisGate:
    """One process's handle on the gate. ``client`` should have a short socket timeout."""

    def __init__(self, client: redis_lib.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        base = f"{prefix}{{inv}}:"
        self.k_avail = base + "avail"
        self.k_epoch = base + "epoch"
        self.k_epoch_seq = base + "epoch_seq"
        self.k_holds = base + "holds"
        self.k_pend = base + "pend"
        self.k_stream = base + "events"
        self.k_hold = base + "hold:"
        self.k_applied = base + "applied:"
        self.k_run_id = base + "run_id"
        self.k_seen = base + "seen"
        self.k_seen_rebuild = base + "seen_rebuild"
        self.k_seen_upto = base + "seen_upto"
        self.base = base
        self._epoch: str | None = None
        self._reserve = client.register_script(gate_scripts.RESERVE)
        self._release = client.register_script(gate_scripts.RELEASE_HOLD)
        self._commit = client.register_script(gate_scripts.COMMIT_HOLD)
        self._delta = client.register_script(gate_scripts.APPLY_DELTA)
        self._mark = client.register_script(gate_scripts.MARK_SEEN)
        self.reconcile_script = client.register_script(gate_scripts.RECONCILE)

    def load_scripts(self) -> None:
        """Load every script (a fresh or restarted Redis has none) so calls go straight to EVALSHA."""
        for script in (self._reserve, self._release, self._commit, self._delta, self._mark, self.reconcile_script):
            self.client.script_load(script.script)

    def lock_key(self, name: str) -> str:
        return f"{self.base}lock:{name}"

    def fence_key(self, name: str) -> str:
        return f"{self.base}fence:{name}"

    # -- epoch -------------------------------------------------------------------------------
    def current_epoch(self) -> str | None:
        value = cast("str | None", self.client.get(self.k_epoch))  # the client decodes responses
        return value if value and value != "rebuilding" else None

    def _known_epoch(self) -> str | None:
        if self._epoch is None:
            self._epoch = self.current_epoch()
        return self._epoch

    # -- reserve path ------------------------------------------------------------------------
    def hold(self, key: str, lines: Iterable[OrderLine]) -> GateAnswer:
        """Try to hold every line for ``key``; ``bypass`` when the gate cannot answer."""
        lines = list(lines)
        try:
            for _ in range(2):
                epoch = self._known_epoch()
                if epoch is None:
                    return GateAnswer("bypass", reason="no_epoch")
                argv: list[Any] = [epoch, key, int(time.time() * 1000)]
                for ln in lines:
                    argv += [ln.sku_id, ln.qty]
                res = self._reserve(keys=[self.k_avail, self.k_epoch, self.k_hold + key, self.k_holds,
                                          self.k_stream, self.k_pend, self.k_seen], args=argv)
                verdict = res[0]
                if verdict == "stale":
                    self._epoch = None
                    continue
                if verdict == "ok":
                    return GateAnswer("ok")
                if verdict == "replay":
                    return GateAnswer("replay", reason=res[1])
                if verdict == "missing":
                    return GateAnswer("bypass", reason="sku_not_cached")
                if verdict == "unsure":
                    return GateAnswer("unsure")
                short = [{"sku_id": res[i], "requested": next(ln.qty for ln in lines if ln.sku_id == res[i]),
                          "available": max(0, int(res[i + 1]))} for i in range(2, len(res), 2)]
                return GateAnswer("short", short=short, seen=int(res[1]) == 1)
            return GateAnswer("bypass", reason="epoch_changing")
        except RedisError as exc:
            self._epoch = None
            return GateAnswer("bypass", reason=f"redis_error:{exc.__class__.__name__}")

    def release_hold(self, key: str) -> bool:
        try:
            return bool(self._release(keys=[self.k_avail, self.k_epoch, self.k_hold + key, self.k_holds,
                                              self.k_stream, self.k_pend], args=[key]))
        except RedisError:
            return False  # the reconciler frees it

    def commit_hold(self, key: str) -> bool | None:
        """True: the pending hold became the reservation; False: no pending hold for ``key``;
        None: Redis did not answer (the reconciler sees the SQL record and commits it)."""
        try:
            return bool(self._commit(keys=[self.k_hold + key, self.k_holds, self.k_epoch, self.k_pend,
                                           self.k_seen, self.k_seen_rebuild], args=[key, COMMITTED_HOLD_TTL]))
        except RedisError:
            return None

    def apply_delta(self, op_key: str, deltas: dict[str, int], *, seen_key: str = "") -> str:
        """Mirror a committed reservation/release/adjust (once per op key), marking
        ``seen_key`` as an accepted reservation key; 'stale'/'error' leave it to the reconciler."""
        if not deltas:
            return "noop"
        try:
            epoch = self._known_epoch()
            if epoch is None:
                return "stale"
            argv: list[Any] = [epoch, op_key, COMMITTED_HOLD_TTL, seen_key]
            for sku, d in sorted(deltas.items()):
                argv += [sku, d]
            return str(self._delta(keys=[self.k_avail, self.k_epoch, self.k_applied + op_key, self.k_stream,
                                         self.k_seen, self.k_seen_rebuild], args=argv))
        except RedisError:
            self._epoch = None
            return "error"

    def mark_seen(self, keys: list[str]) -> bool:
        """Record reservation keys SQL accepted without a gate hold; False on a Redis error."""
        if not keys:
            return True
        try:
            self._mark(keys=[self.k_seen, self.k_seen_rebuild], args=keys)
            return True
        except RedisError:
            return False

    def seen_upto(self) -> int:
        """The newest request id the seen-keys filter was synced with (rebuild or catch-up)."""
        return int(self.client.get(self.k_seen_upto) or 0)

    def catch_up_seen(self, read_keys: KeyReader, *, overlap: int) -> int:
        """Mark the keys SQL accepted since the last sync, starting ``overlap`` request ids
        back so a reservation that committed after a newer one is not missed. Returns how many
        keys were marked."""
        upto = self.seen_upto()
        marked, newest = self._mark_from(read_keys, max(0, upto - overlap), self.k_seen)
        if newest > upto:
            self.client.set(self.k_seen_upto, newest)
        return marked

    def _mark_from(self, read_keys: KeyReader, after: int, bits: str,
                   keep: Callable[[], object] | None = None) -> tuple[int, int]:
        """Mark every key ``read_keys`` yields after request id ``after``, a batch at a time
        (``keep`` runs after each batch: the rebuild extends its lock there)."""
        marked = 0
        while True:
            if keep is not None:
                keep()
            keys, newest = read_keys(after, KEY_BATCH)
            if not keys:
                return marked, after
            for i in range(0, len(keys), REBUILD_BATCH):
                target = [bits, bits] if bits == self.k_seen_rebuild else [bits, self.k_seen_rebuild]
                self._mark(keys=target, args=keys[i:i + REBUILD_BATCH])
            marked += len(keys)
            after = newest

    # -- rebuild -----------------------------------------------------------------------------
    def needs_rebuild(self) -> bool:
        """True when the epoch or the seen-keys filter is missing, or Redis restarted (new
        run_id) since the last rebuild."""
        epoch = self.client.get(self.k_epoch)
        if not epoch or not self.client.exists(self.k_seen):  # the filter was evicted or predates it
            return True
        run_id = self.client.info("server").get("run_id")
        return self.client.get(self.k_run_id) != run_id

    def rebuild(self, read_sql: Callable[[], dict[str, int]], read_keys: KeyReader | None = None, *,
                lock_timeout: float = 30.0) -> str | None:
        """Bump the epoch and load the counters and the seen-keys filter from SQL; scripts
        refuse meanwhile (callers bypass).

        ``read_sql`` and ``read_keys`` (every accepted reservation key after an id, and the
        newest id) are called after the epoch is parked and the new filter exists, so no hold
        of the new epoch predates them and a key accepted meanwhile is marked in the new
        filter too. Returns the new epoch, or None when another process holds the rebuild lock.
        """
        lock = self.client.lock(self.lock_key("rebuild"), timeout=lock_timeout, blocking_timeout=0)
        if not lock.acquire(blocking=False):
            return None
        try:
            new_epoch = str(self.client.incr(self.k_epoch_seq))
            self.client.set(self.k_epoch, "rebuilding")
            self.client.delete(self.k_seen_rebuild)
            self.client.setbit(self.k_seen_rebuild, 0, 0)  # exists from here on: marks land in it too
            available: dict[str, int] = read_sql()
            _marked, newest = (self._mark_from(read_keys, 0, self.k_seen_rebuild,
                                               keep=lambda: lock.extend(lock_timeout, replace_ttl=True))
                               if read_keys is not None else (0, 0))
            tmp = self.base + "avail_rebuild"
            self.client.delete(tmp)
            items = sorted(available.items())
            for i in range(0, len(items), REBUILD_BATCH):
                self.client.hset(tmp, mapping=dict(items[i:i + REBUILD_BATCH]))
            run_id = self.client.info("server").get("run_id", "")
            with self.client.pipeline(transaction=True) as pipe:
                pipe.watch(lock.name)  # publish only while the lock is still ours (WatchError otherwise)
                if not lock.owned():
                    log.warning("inventory gate rebuild abandoned: its lock expired", epoch=new_epoch)
                    return None
                pipe.multi()
                if items:
                    pipe.rename(tmp, self.k_avail)
                else:
                    pipe.delete(self.k_avail)
                pipe.delete(self.k_pend)  # holds of older epochs no longer count
                pipe.rename(self.k_seen_rebuild, self.k_seen)
                pipe.set(self.k_seen_upto, newest)
                pipe.set(self.k_epoch, new_epoch)
                pipe.set(self.k_run_id, run_id)
                pipe.xadd(self.k_stream, {"op": "rebuild", "epoch": new_epoch}, maxlen=10000, approximate=True)
                pipe.execute()
            self._epoch = new_epoch
            log.info("inventory gate rebuilt", epoch=new_epoch, skus=len(items))
            return new_epoch
        finally:
            try:
                lock.release()
            except RedisError:
                pass

    # -- inspection (reconciler, tests) ------------------------------------------------------
    def counters(self) -> dict[str, int]:
        return {k: int(v) for k, v in cast(dict[str, str], self.client.hgetall(self.k_avail)).items()}

    def pending_units(self) -> dict[str, int]:
        """Units held by pending holds of the current epoch, per SKU (zeros left out)."""
        return {k: int(v) for k, v in cast(dict[str, str], self.client.hgetall(self.k_pend)).items() if int(v) != 0}

    def maybe_seen(self, key: str) -> bool:
        """Whether the seen-keys filter may hold ``key`` (the scripts' six offsets from its SHA-1)."""
        digest = hashlib.sha1(key.encode()).hexdigest()
        pipe = self.client.pipeline(transaction=False)
        for g in range(3):
            value = int(digest[g * 13:g * 13 + 13], 16)
            for offset in (value & (2**26 - 1), value >> 26):
                pipe.getbit(self.k_seen, offset)
        return all(pipe.execute())

    def holds(self) -> list[tuple[str, dict[str, str]]]:
        out = []
        for key, _score in cast(list[tuple[str, float]], self.client.zrange(self.k_holds, 0, -1, withscores=True)):
            out.append((key, cast(dict[str, str], self.client.hgetall(self.k_hold + key))))
        return out

    def wipe(self) -> None:
        """Delete every gate key of this prefix (tests: simulate a Redis that lost its data)."""
        for key in self.client.scan_iter(match=self.base.replace("{", "\\{").replace("}", "\\}") + "*", count=500):
            self.client.delete(key)
        self._epoch = None
