"""Coalesced stock pushes to the channels (I10), quotas and buffers, snapshot drift."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from engine.inventory.audit import check_invariants, check_publications
from engine.inventory.channels import channel_registry, register_stock_connector, rules_for
from engine.inventory.domain import InsufficientStock
from engine.inventory.jobs import register_push_handler
from engine.inventory.models import ChannelPush
from engine.inventory.push import relay_pushes
from engine.inventory.service import InventoryService
from engine.inventory.snapshots import pull_snapshot
from engine.outbox.dispatcher import Dispatcher
from engine.services import Services
from tests.conftest import auth
from tests.inventory.fake_channel import FakeChannel


@pytest.fixture
def shop(services: Services) -> Iterator[tuple[InventoryService, FakeChannel, FakeChannel]]:
    pdd, douyin = FakeChannel("pdd"), FakeChannel("douyin")
    register_stock_connector(services, pdd)
    register_stock_connector(services, douyin)
    register_push_handler(services)
    inv = InventoryService(services.db, services.clock)
    yield inv, pdd, douyin
    inv.close()


def _relay(inv: InventoryService, services: Services):
    return relay_pushes(inv.db, inv.clock, channel_registry(services))


def _deliver(services: Services) -> int:
    return Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now())


def _push_rows(inv: InventoryService) -> list[tuple[str, dict, str]]:
    with inv.db.session() as s:
        rows = s.execute(text("SELECT delivery_id, payload, status FROM outbox WHERE topic = 'inventory.stock_push' "
                              "ORDER BY id")).all()
    return [(r[0], r[1] if isinstance(r[1], dict) else json.loads(r[1]), r[2]) for r in rows]


def test_changes_coalesce_into_one_pending_push_per_channel_and_sku(shop, services) -> None:
    inv, pdd, douyin = shop
    inv.adjust("A", 10, "inbound")
    for i in range(3):
        inv.reserve(f"o{i}", [{"sku_id": "A", "qty": 1}])
    report = _relay(inv, services)
    assert (report.skus, report.queued, report.coalesced) == (1, 2, 0)
    rows = _push_rows(inv)
    assert sorted((p["channel"], p["version"], p["available"]) for _, p, _ in rows) == [
        ("douyin", 4, 7), ("pdd", 4, 7)]
    inv.reserve("o9", [{"sku_id": "A", "qty": 2}])
    report = _relay(inv, services)
    assert (report.queued, report.coalesced) == (0, 2)  # the unclaimed rows took the newer figure
    rows = _push_rows(inv)
    assert len(rows) == 2 and {(p["version"], p["available"]) for _, p, _ in rows} == {(5, 5)}
    assert _relay(inv, services).skus == 0  # markers are consumed
    assert _deliver(services) == 2
    assert pdd.shown == douyin.shown == {"A": 5}
    inv.ship("o9", [{"sku_id": "A", "qty": 1}])  # total and reserved both fall: the figure stays
    report = _relay(inv, services)
    assert (report.skus, report.queued, report.coalesced, report.unchanged) == (1, 0, 0, 2)
    assert check_publications(inv.db, {"pdd": pdd.pushes, "douyin": douyin.pushes}) == []


def test_a_channel_never_goes_backwards(shop, services) -> None:
    inv, pdd, douyin = shop
    inv.adjust("A", 10, "inbound")
    _relay(inv, services)
    dispatcher = Dispatcher(services, worker_id="slow")
    early = [dispatcher.claim_next(services.clock.now()) for _ in range(2)]  # claimed, not yet delivered
    assert all(c is not None and c.payload["version"] == 1 for c in early)
    inv.reserve("o1", [{"sku_id": "A", "qty": 4}])
    report = _relay(inv, services)
    assert report.queued == 2  # claimed rows are not rewritten: a new row per channel
    assert _deliver(services) == 2
    assert pdd.shown == {"A": 6}
    for claim in early:  # the old rows arrive late: nothing older than what was shown goes out
        assert dispatcher.deliver(claim) == "delivered"
    assert pdd.pushes == douyin.pushes and [(p.available, p.version) for p in pdd.pushes] == [(6, 2)]
    assert pdd.backwards == [] and douyin.backwards == []
    assert check_publications(inv.db, {"pdd": pdd.pushes, "douyin": douyin.pushes}) == []


def test_a_figure_queued_then_overtaken_at_delivery_is_still_corrected(shop, services) -> None:
    inv, pdd, _douyin = shop
    inv.adjust("A", 12, "inbound")
    _relay(inv, services)  # queues 12
    inv.reserve("o1", [{"sku_id": "A", "qty": 2}])  # 10, marker not yet relayed
    _deliver(services)  # the handler pushes the figure current at delivery: 10
    assert pdd.shown == {"A": 10}
    inv.release("o1")  # back to 12: the figure that was queued first
    report = _relay(inv, services)
    assert report.queued == 2  # compared with what the channels show (10), not with what was queued
    _deliver(services)
    assert pdd.shown == {"A": 12}
    assert check_publications(inv.db, {"pdd": pdd.pushes}) == []


def test_a_relay_that_meets_a_push_in_flight_queues_a_new_one(shop, services) -> None:
    """A push's call runs with no row lock held (SQLite: outside the write lock; PostgreSQL:
    under an advisory lock only), so the relay finishes while the platform is still answering;
    it must not take the figure last recorded (10) for what the channel shows, since the push
    in flight is showing 7."""
    import threading

    inv, pdd, _douyin = shop
    inv.adjust("A", 10, "inbound")
    _relay(inv, services)
    _deliver(services)
    assert pdd.shown == {"A": 10}
    inv.reserve("o1", [{"sku_id": "A", "qty": 3}])
    _relay(inv, services)  # queues 7
    in_call, go = threading.Event(), threading.Event()
    plain = pdd.push_stock

    def slow_push(sku_id: str, available: int, version: int) -> None:
        in_call.set()
        go.wait(10)
        plain(sku_id, available, version)

    pdd.push_stock = slow_push  # type: ignore[method-assign]
    delivering = threading.Thread(target=lambda: _deliver(services))
    delivering.start()
    assert in_call.wait(10)
    inv.release("o1")  # back to 10, the figure last recorded as pushed
    relaying = threading.Thread(target=lambda: _relay(inv, services))
    relaying.start()
    relaying.join(5)
    waited = relaying.is_alive()
    go.set()
    for t in (delivering, relaying):
        t.join(20)
    pdd.push_stock = plain  # type: ignore[method-assign]
    assert not waited, "the relay waited for a push in flight"
    _relay(inv, services)
    _deliver(services)
    assert [p.available for p in pdd.pushes] == [10, 7, 10]
    assert pdd.shown == {"A": 10} and pdd.backwards == []
    assert check_publications(inv.db, {"pdd": pdd.pushes}) == []


def test_the_channels_pushes_go_side_by_side_on_both_back_ends(shop, services) -> None:
    """Each push waits at a barrier for the other channel's: delivered in turn, the first would
    time out there (on SQLite too, where the calls run with no lock held)."""
    import threading

    inv, pdd, douyin = shop
    inv.adjust("A", 10, "inbound")
    _relay(inv, services)
    meet = threading.Barrier(2, timeout=5)
    for channel in (pdd, douyin):
        plain = channel.push_stock

        def together(sku_id: str, available: int, version: int, plain=plain) -> None:
            meet.wait()
            plain(sku_id, available, version)

        channel.push_stock = together  # type: ignore[method-assign]
    assert _deliver(services) == 2
    assert pdd.shown == douyin.shown == {"A": 10}
    assert _push_rows(inv) and {status for *_, status in _push_rows(inv)} == {"delivered"}


def test_a_failed_push_is_retried_with_the_latest_figure(shop, services, clock) -> None:
    inv, pdd, douyin = shop
    inv.adjust("A", 5, "inbound")
    _relay(inv, services)
    pdd.fail_next = 1
    _deliver(services)
    assert "A" not in pdd.shown and douyin.shown == {"A": 5}
    inv.reserve("o1", [{"sku_id": "A", "qty": 2}])
    report = _relay(inv, services)
    assert report.coalesced == 1 and report.queued == 1  # pdd's failed row waits for its retry: coalesced
    clock.advance(10)
    _deliver(services)
    assert pdd.shown == douyin.shown == {"A": 3}
    assert [p.version for p in pdd.pushes] == [2]


def test_quota_and_buffer_shape_what_each_channel_is_shown(shop, services) -> None:
    inv, pdd, douyin = shop
    inv.adjust("A", 10, "inbound")
    inv.adjust("B", 10, "inbound")
    inv.set_safety("A", 1)
    inv.set_channel_rule("*", "pdd", quota=None, buffer=2, actor="ops")
    inv.set_channel_rule("A", "douyin", quota=4, buffer=None, actor="ops")
    inv.reserve("o1", [{"sku_id": "A", "qty": 3}])
    _relay(inv, services)
    _deliver(services)
    assert pdd.shown == {"A": 4, "B": 8}  # 10 - 3 reserved - 1 safety - 2 buffer; B: 10 - 2
    assert douyin.shown == {"A": 4, "B": 10}  # capped by the quota
    inv.set_channel_rule("A", "pdd", quota=1, buffer=0, actor="ops")  # no stock change: still pushed
    _relay(inv, services)
    _deliver(services)
    assert pdd.shown["A"] == 1
    view = {c["channel"]: c for c in inv.channel_view("A")}
    assert (view["pdd"]["quota"], view["pdd"]["buffer"], view["pdd"]["figure"]) == (1, 0, 1)
    assert view["douyin"]["pushed_available"] == 4
    assert (view["douyin"]["quota"], view["douyin"]["buffer"]) == (4, 0)  # its own quota, no buffer anywhere
    b = {c["channel"]: (c["quota"], c["buffer"], c["figure"]) for c in inv.channel_view("B")}
    assert (b["pdd"], b["douyin"]) == ((None, 2, 8), (None, 0, 10))  # pdd's default for every SKU
    with inv.db.session() as s:  # the page's one read of a SKU's rules decides as the pushes do
        for sku in ("A", "B"):
            for c in inv.channel_view(sku):
                rule = rules_for(s, c["channel"], [sku])[sku]
                assert (c["quota"], c["buffer"]) == (rule.quota, rule.buffer), (sku, c["channel"])
    assert check_publications(inv.db, {"pdd": pdd.pushes, "douyin": douyin.pushes}) == []
    assert check_invariants(inv.db) == []


def test_snapshot_drift_alerts_and_forces_a_push(shop, services) -> None:
    inv, pdd, _douyin = shop
    inv.adjust("A", 5, "inbound")
    _relay(inv, services)
    _deliver(services)
    pdd.show("A", 50)  # the platform shows more than we have
    report = pull_snapshot(inv, "pdd", pdd.fetch_stock)
    assert report.drift == [{"sku_id": "A", "reported": 50, "available": 5}]
    with inv.db.session() as s:
        alerts = [str(r[0]) for r in s.execute(text("SELECT payload FROM outbox WHERE topic = 'inventory.alert'"))]
    assert any("channel_shows_more_than_available" in a for a in alerts)
    _deliver(services)
    assert pdd.shown == {"A": 5}  # the same version again, forced
    assert [(p.available, p.version) for p in pdd.pushes] == [(5, 1), (5, 1)]
    assert pull_snapshot(inv, "pdd", pdd.fetch_stock).drift == []


def test_relay_keeps_markers_until_a_connector_exists(services) -> None:
    inv = InventoryService(services.db, services.clock)
    inv.adjust("A", 5, "inbound")
    assert relay_pushes(inv.db, inv.clock, channel_registry(services)).skus == 0
    register_stock_connector(services, FakeChannel("taobao"))
    register_push_handler(services)
    assert relay_pushes(inv.db, inv.clock, channel_registry(services)).queued == 1
    with inv.db.session() as s:
        assert s.scalars(select(ChannelPush.queued_version)).all() == [1]
    inv.close()


def test_channel_rules_over_http(client, services, tokens) -> None:
    InventoryService(services.db, services.clock).adjust("TEA-1", 8, "inbound")
    url = "/api/v1/stock/TEA-1/channels/pdd"
    r = client.put(url, json={"quota": 5, "buffer": 1}, headers=auth(tokens["ops"]))
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["quota"], r.get_json()["buffer"], r.get_json()["updated_by"]) == (5, 1, "user_ops")
    assert client.put(url, json={"quota": 5}, headers=auth(tokens["warehouse"])).status_code == 403
    bad = client.put("/api/v1/stock/TEA-1/channels/ebay", json={"quota": -1}, headers=auth(tokens["admin"]))
    assert bad.status_code == 422
    assert {d["path"] for d in bad.get_json()["error"]["details"]} >= {"/quota"}
    bad = client.put("/api/v1/stock/TEA-1/channels/ebay", json={"quota": 1}, headers=auth(tokens["admin"]))
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["path"] == "/channel"
    view = client.get("/api/v1/stock/TEA-1/channels", headers=auth(tokens["cs"])).get_json()
    pdd = next(c for c in view if c["channel"] == "pdd")
    assert (pdd["quota"], pdd["buffer"], pdd["figure"]) == (5, 1, 5)
    assert client.put("/api/v1/stock/*/channels/douyin", json={"buffer": 2},
                      headers=auth(tokens["admin"])).status_code == 200
    douyin = next(c for c in client.get("/api/v1/stock/TEA-1/channels", headers=auth(tokens["cs"])).get_json()
                  if c["channel"] == "douyin")
    assert (douyin["quota"], douyin["buffer"], douyin["figure"]) == (None, 2, 6)


def test_concurrent_sales_relay_and_dispatchers_never_publish_too_much_or_backwards(shop, services) -> None:
    import threading
    import time

    inv, pdd, douyin = shop
    skus = ["A", "B", "C"]
    for sku in skus:
        inv.adjust(sku, 60, "inbound")
    stop = threading.Event()
    errors: list[BaseException] = []

    def guard(fn):
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
        return run

    def pushes_grow(seen: int) -> None:
        # A seller waits at its quarter marks until a push went out since the last mark: the
        # test is about pushes going out *while* sales run, which a loaded machine (the SQLite
        # writer lock handed to the sellers for a whole second) must not turn into "at the end".
        deadline = time.monotonic() + 30
        while len(pdd.pushes) <= seen and time.monotonic() < deadline and not errors:
            time.sleep(0.01)

    def sell(i: int) -> None:
        seen = 0
        for n in range(40):
            if n % 10 == 0 and n:
                pushes_grow(seen)
                seen = len(pdd.pushes)
            try:
                inv.reserve(f"t{i}-{n}", [{"sku_id": skus[(i + n) % 3], "qty": 1 + n % 2}])
            except InsufficientStock:
                continue
            if n % 5 == 4:
                inv.release(f"t{i}-{n}")
            time.sleep(0.01)  # let the relay and the dispatchers interleave with the sales

    def relay() -> None:
        while not stop.is_set():
            _relay(inv, services)

    def dispatch(worker: str) -> None:
        d = Dispatcher(services, worker_id=worker)
        while not stop.is_set():
            d.dispatch_due(now=services.clock.now())
        d.release_dispatcher_lease()  # SQLite: let the final pass below take the single-dispatcher lease

    sellers = [threading.Thread(target=guard(lambda i=i: sell(i))) for i in range(3)]
    loops = [threading.Thread(target=guard(relay)),
             *[threading.Thread(target=guard(lambda w=w: dispatch(w))) for w in ("d1", "d2")]]
    for t in [*sellers, *loops]:
        t.start()
    for t in sellers:
        t.join(120)
    during = list(pdd.pushes)
    time.sleep(0.3)
    stop.set()
    for t in loops:
        t.join(30)
    assert errors == []
    _relay(inv, services)
    services.clock.advance(2)  # a row given back while the other dispatcher pushed its SKU comes again
    _deliver(services)
    assert pdd.backwards == [] and douyin.backwards == []
    assert check_publications(inv.db, {"pdd": pdd.pushes, "douyin": douyin.pushes}) == []
    assert len(during) > 6  # figures went out while the sales ran, not only at the end
    final = {sku: inv.get(sku)["available"] for sku in skus}
    assert pdd.shown == douyin.shown == final  # the latest figure won everywhere
    assert check_invariants(inv.db) == []


@pytest.mark.postgres
def test_the_relay_leaves_a_marker_an_open_writer_holds_and_relays_it_after_the_commit(shop, services) -> None:
    """A pipeline batch writes push markers order by order and holds them until it commits: the
    relay deletes only the markers nobody holds (SKIP LOCKED) instead of waiting, or
    deadlocking, on the held one, which stays for its next run."""
    import threading

    from engine.inventory.push import mark_changed

    inv, _pdd, _douyin = shop
    inv.adjust("A", 10, "inbound")
    inv.adjust("B", 10, "inbound")
    done: dict[str, object] = {}
    relay = threading.Thread(target=lambda: done.update(report=_relay(inv, services)))
    with services.db.transaction() as writer:  # the open batch: it holds B's marker
        mark_changed(writer, [("B", 99)], services.clock.now())
        writer.flush()
        relay.start()
        relay.join(10)
        waited = relay.is_alive()
    relay.join(30)
    assert not waited, "the relay waited for a marker an open transaction holds"
    assert done["report"].skus == 2  # both relayed, B as committed before the writer
    assert sorted((p["channel"], p["sku_id"]) for _, p, _ in _push_rows(inv)) == [
        ("douyin", "A"), ("douyin", "B"), ("pdd", "A"), ("pdd", "B")]
    with services.db.session() as s:  # the held marker stayed, with the writer's version
        assert s.execute(text("SELECT sku_id, version FROM inventory_push_pending")).all() == [("B", 99)]
    assert _relay(inv, services).skus == 1  # the run the writer's commit wakes relays B again
    assert _relay(inv, services).skus == 0


@pytest.mark.postgres
def test_two_processes_never_push_one_channel_and_sku_at_once(shop, services) -> None:
    """Two deliveries of pdd/A in two transactions (two worker processes): while the first is
    in its call, the second neither pushes nor waits for it (a thread held while a platform
    times out): it gives its attempt back to come again shortly, and then pushes the figure
    current by then, never an older one. The first one's call holds no row a relay needs."""
    import threading

    from engine.inventory.push import PUSH_TOPIC, PushInFlight, make_push_handler
    from engine.outbox.dispatcher import asked_wait
    from engine.outbox.registry import Delivery

    inv, pdd, _douyin = shop
    inv.adjust("A", 10, "inbound")
    _relay(inv, services)
    _deliver(services)
    inv.reserve("o1", [{"sku_id": "A", "qty": 3}])
    handler = make_push_handler(channel_registry(services))
    calls: list[int] = []
    first_in_call, go = threading.Event(), threading.Event()
    plain = pdd.push_stock

    def slow_first(sku_id: str, available: int, version: int) -> None:
        calls.append(available)
        if len(calls) == 1:
            first_in_call.set()
            go.wait(10)
        plain(sku_id, available, version)

    pdd.push_stock = slow_first  # type: ignore[method-assign]

    def deliver(name: str) -> None:
        with services.db.transaction() as s:
            handler(Delivery(name, PUSH_TOPIC, {"channel": "pdd", "sku_id": "A"}, 1, services.clock.now(), s))

    first = threading.Thread(target=deliver, args=("d-first",))
    first.start()
    assert first_in_call.wait(10)
    with pytest.raises(PushInFlight) as refused:
        deliver("d-second")  # at once: no wait for the first one's lock
    assert asked_wait(refused.value, "d-second") is not None  # the outbox gives the attempt back
    inv.release("o1")  # back to 10 while 7 is on its way
    relaying = threading.Thread(target=lambda: _relay(inv, services))
    relaying.start()
    relaying.join(5)
    assert not relaying.is_alive(), "the relay waited for the push in flight"
    assert calls == [7], "a second push of pdd/A started while the first was in flight"
    go.set()
    for t in (first, relaying):
        t.join(20)
    deliver("d-second")  # its retry, once the first is done
    pdd.push_stock = plain  # type: ignore[method-assign]
    assert calls == [7, 10]
    assert pdd.shown == {"A": 10} and pdd.backwards == []
    with services.db.session() as s:
        state = s.execute(select(ChannelPush).where(ChannelPush.channel == "pdd", ChannelPush.sku_id == "A")).scalar_one()
        assert (state.pushed_available, state.pushed_version) == (10, inv.get("A")["version"])
    assert check_publications(inv.db, {"pdd": pdd.pushes}) == []
