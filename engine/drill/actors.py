"""The people and systems around the shop during the drill, each acting only through public
surfaces: buyers placing orders on the fake platforms (which OrderPulse pulls, and which the
pushing platforms push) or, for the risky buyers, on the own mini-program shop
(``POST /api/v1/orders``); the warehouse shipping (``POST /orders/{id}/ship``) once picking is
done; customers returning goods (a platform refund, their return waybill on the ticket), the
warehouse's quality check and DingTalk's finance approval callbacks (``POST /hooks/…``,
sometimes twice). Every answer is recorded in :class:`Journal` for the report.

Time: hour ``h`` of the scenario's day happens ``h * 3600 / speed`` real seconds after the
start; waits of the day (picking, returning) are scaled the same way.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from engine.drill.scenario import DayPlan, PlannedOrder, Scenario

COURIERS = (("ZTO", "78", 12), ("YTO", "YT", 13), ("YUNDA", "43", 11), ("SF", "SF", 13), ("JT", "JT", 13))
RISKY_CITIES = (("浙江省", "杭州市", "西湖区"), ("广东省", "深圳市", "南山区"), ("四川省", "成都市", "武侯区"),
                ("北京市", "北京市", "朝阳区"), ("上海市", "上海市", "浦东新区"))


@dataclass
class DrillOrder:
    planned: PlannedOrder
    channel: str
    order_id: str
    number: int | None  # the fake shop's order number (None: placed through the API)
    placed_at: float  # real time (time.time())
    pk: int | None = None
    ship_due: float = 0.0
    ship_posted: float | None = None
    ship_answered: float | None = None
    tracking_no: str | None = None
    ship_refusals: int = 0
    last_refusal: str = ""
    returned_step: str = ""


@dataclass
class Journal:
    """What the drill did and what it was answered (shared by the actors; ``lock`` guards it)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    orders: list[DrillOrder] = field(default_factory=list)
    accepted_writebacks: dict[str, float] = field(default_factory=dict)  # tracking no → fake accepted at
    stock_pushes: list[tuple[float, str]] = field(default_factory=list)  # (fake accepted at, SKU)
    api_errors: dict[str, int] = field(default_factory=dict)
    bad_signatures_sent: int = 0
    bad_signatures_accepted: int = 0
    approvals_sent: int = 0
    approvals_repeated: int = 0
    returns_opened: int = 0
    returns_closed: int = 0
    qc_failed: int = 0
    faults: list[dict[str, Any]] = field(default_factory=list)

    def error(self, what: str) -> None:
        with self.lock:
            self.api_errors[what] = self.api_errors.get(what, 0) + 1


class Clock:
    """Real time ↔ the scenario's day."""

    def __init__(self, speed: float, start: float | None = None) -> None:
        self.speed = speed
        self.start = start if start is not None else time.time()

    def real(self, hour: float) -> float:
        return self.start + hour * 3600 / self.speed

    def hour(self, real: float | None = None) -> float:
        return ((real if real is not None else time.time()) - self.start) * self.speed / 3600

    def seconds(self, day_seconds: float) -> float:
        """Real seconds for ``day_seconds`` of the scenario's day."""
        return day_seconds / self.speed


def _sleep_until(t: float, stop: threading.Event) -> bool:
    while not stop.is_set():
        left = t - time.time()
        if left <= 0:
            return True
        stop.wait(min(left, 0.5))
    return False


def stamp_accepts(fake: Any, journal: Journal) -> None:
    """Record when the fake accepts a write-back (by tracking number) or a stock figure (by SKU)."""
    accept = fake.accept

    def stamped(message: dict[str, Any]) -> None:
        now = time.time()
        if message.get("tracking_no"):
            journal.accepted_writebacks.setdefault(str(message["tracking_no"]), now)
        elif message.get("code"):
            journal.stock_pushes.append((now, str(message["code"])))
        accept(message)

    fake.accept = stamped


class Api:
    """A token-authenticated client spreading calls over the ``serve`` processes."""

    def __init__(self, apis: list[str], token: str) -> None:
        self.apis = apis
        self._turn = itertools.count()
        self._local = threading.local()
        self.token = token

    @property
    def http(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {self.token}"
            self._local.session = s
        return s

    def url(self, path: str) -> str:
        return self.apis[next(self._turn) % len(self.apis)] + path

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url(path), timeout=30, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.http.post(self.url(path), json=body if body is not None else {}, timeout=30, **kw)


class Shop:
    """Buyers placing the day's orders at their planned times."""

    def __init__(self, plan: DayPlan, scenario: Scenario, clock: Clock, platforms: dict[str, Any],
                 order_id_of: Callable[[str, Any], str], api: Api, journal: Journal,
                 on_placed: Callable[[DrillOrder], None]) -> None:
        self.plan, self.scenario, self.clock, self.platforms = plan, scenario, clock, platforms
        self.order_id_of, self.api, self.journal, self.on_placed = order_id_of, api, journal, on_placed
        self.done = threading.Event()
        promise = clock.seconds(scenario.promise_ship_hours * 3600)
        for fake in platforms.values():
            scenario_of = getattr(fake, "scenario", None)
            if scenario_of is not None:
                scenario_of.lifecycle = replace(scenario_of.lifecycle, promise_ship_within=max(1.0, promise))

    def run(self, stop: threading.Event) -> None:
        try:
            for planned in self.plan.orders:
                if not _sleep_until(self.clock.real(planned.at_hour), stop):
                    return
                try:
                    order = self._place(planned)
                except Exception as exc:  # noqa: BLE001 - recorded; the day goes on
                    self.journal.error(f"place order: {type(exc).__name__}")
                    continue
                with self.journal.lock:
                    self.journal.orders.append(order)
                self.on_placed(order)
        finally:
            self.done.set()

    def _place(self, planned: PlannedOrder) -> DrillOrder:
        if planned.risky_buyer is not None:
            return self._place_risky(planned)
        lines = planned.lines[:1] if planned.channel == "kuaishou" else planned.lines  # 快手: one item an order
        fake = self.platforms[planned.channel]
        made = fake.scenario.create(list(lines), paid=True)
        return DrillOrder(replace(planned, lines=lines), planned.channel,
                          self.order_id_of(planned.channel, made), made.number, time.time())

    def _place_risky(self, planned: PlannedOrder) -> DrillOrder:
        """A scalper's order on the own shop: one phone, a city each time (疑似黄牛)."""
        seq = planned.seq
        province, city, district = RISKY_CITIES[seq % len(RISKY_CITIES)]
        phone = f"1370000{planned.risky_buyer or 0:04d}"
        now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        lines: list[dict[str, Any]] = [{"line_id": str(i + 1), "sku_id": code, "title": code, "qty": qty,
                  "unit_price": self.plan.prices[code], "amount": self.plan.prices[code] * qty}
                 for i, (code, qty) in enumerate(planned.lines)]
        total = sum(x["amount"] for x in lines)
        order_id = f"DRILL-RISKY-{seq:06d}"
        body = {"order_id": order_id, "channel": "miniprogram", "shop": "自有小程序", "status": "awaiting_shipment",
                "created_at": now, "paid_at": now, "updated_at": now, "buyer_phone": phone,
                "receiver": {"name": "黄先生", "phone": phone, "province": province, "city": city,
                             "district": district, "address": f"{province}{city}{district}人民路 1 号"},
                "lines": lines, "freight": 0, "payment": {"method": "wechat", "paid_amount": total}}
        answer = self.api.post("/orders", body)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"POST /orders {answer.status_code}")
        return DrillOrder(replace(planned, channel="miniprogram"), "miniprogram", order_id, None, time.time(),
                          pk=int(answer.json()["order"]["id"]))


SCANNERS = 16  # the warehouse's scanners: enough that a prompt OrderPulse never keeps packed orders waiting


class Warehouse:
    """Ships each order ``pick_minutes`` of the day after it was placed, through the API; an
    order OrderPulse does not let ship yet (not arrived, not reserved, held) is tried again."""

    def __init__(self, scenario: Scenario, clock: Clock, api: Api, journal: Journal, threads: int = SCANNERS,
                 seed: int = 7) -> None:
        self.scenario, self.clock, self.api, self.journal = scenario, clock, api, journal
        self.threads = threads
        self._rng = random.Random(seed)
        self._queue: list[tuple[float, int, DrillOrder]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self.shipped: list[DrillOrder] = []
        self.on_shipped: Callable[[DrillOrder], None] = lambda order: None

    def receive(self, order: DrillOrder) -> None:
        if order.planned.presale:
            return  # presale goods ship after the day
        order.ship_due = order.placed_at + self.clock.seconds(self.scenario.pick_minutes * 60)
        self._push(order.ship_due, order)

    def _push(self, when: float, order: DrillOrder) -> None:
        with self._cv:
            heapq.heappush(self._queue, (when, next(self._seq), order))
            self._cv.notify()

    def pending(self) -> int:
        with self._cv:
            return len(self._queue)

    def run(self, stop: threading.Event) -> None:
        workers = [threading.Thread(target=self._work, args=(stop,), daemon=True, name=f"drill-warehouse-{i}")
                   for i in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._cv:
                if not self._queue or self._queue[0][0] > time.time():
                    wait = (self._queue[0][0] - time.time()) if self._queue else 0.5
                    self._cv.wait(max(0.01, min(wait, 0.5)))
                    continue
                _, _, order = heapq.heappop(self._queue)
            try:
                done = self._ship(order)
            except requests.RequestException as exc:
                self.journal.error(f"warehouse: {type(exc).__name__}")
                done = False
            if not done:
                order.ship_refusals += 1
                backoff = min(30.0, 0.5 * (1.6 ** min(order.ship_refusals, 12)))  # a WMS polls politely
                self._push(time.time() + backoff, order)

    def _ship(self, order: DrillOrder) -> bool:
        if order.pk is None:
            answer = self.api.get(f"/orders/{order.channel}/{order.order_id}")
            if answer.status_code == 404:
                order.last_refusal = "not_arrived"
                return False
            if answer.status_code != 200:
                self.journal.error(f"GET order {answer.status_code}")
                return False
            order.pk = int(answer.json()["id"])
        if order.tracking_no is None:
            code, prefix, digits = self._rng.choice(COURIERS)
            order.tracking_no = prefix + "".join(str(self._rng.randrange(10)) for _ in range(digits))
            order.last_refusal = code
        posted = time.time()
        answer = self.api.post(f"/orders/{order.pk}/ship",
                               {"courier": _courier_of(order.tracking_no), "tracking_no": order.tracking_no})
        if answer.status_code == 201:
            order.ship_posted, order.ship_answered = posted, time.time()
            with self.journal.lock:
                self.shipped.append(order)
            self.on_shipped(order)
            return True
        try:
            order.last_refusal = answer.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            order.last_refusal = f"http_{answer.status_code}"
        if answer.status_code == 409 and order.last_refusal in ("nothing_to_ship",):
            return True
        return False


def _courier_of(tracking_no: str) -> str:
    for code, prefix, _ in COURIERS:
        if tracking_no.startswith(prefix):
            return code
    return "ZTO"


class Customers:
    """Customers returning goods, the warehouse's quality check and finance's DingTalk
    approval, for the orders the plan marks returned, once they are shipped."""

    def __init__(self, clock: Clock, api: Api, journal: Journal, platforms: dict[str, Any],
                 approvals: Any, hook_bases: list[str], by_role: dict[str, Api]) -> None:
        self.clock, self.api, self.journal, self.platforms = clock, api, journal, platforms
        self.by_role = by_role  # the warehouse's and the 客服组长's own logins
        self.approvals, self.hook_bases = approvals, hook_bases
        self._queue: list[tuple[float, int, DrillOrder]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def shipped(self, order: DrillOrder) -> None:
        if order.planned.returned and order.number is not None:
            order.returned_step = "deliver"
            self._push(time.time() + self.clock.seconds(3600), order)

    def _push(self, when: float, order: DrillOrder) -> None:
        with self._lock:
            heapq.heappush(self._queue, (when, next(self._seq), order))

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                due = self._queue[0] if self._queue and self._queue[0][0] <= time.time() else None
                if due:
                    heapq.heappop(self._queue)
            if due is None:
                stop.wait(0.05)
                continue
            order = due[2]
            try:
                again = self._step(order)
            except Exception as exc:  # noqa: BLE001 - recorded; the next step tries again
                self.journal.error(f"returns {order.returned_step}: {type(exc).__name__}")
                again = 1.0
            if again is not None:
                self._push(time.time() + again, order)

    def _ticket(self, order: DrillOrder) -> dict[str, Any] | None:
        """The order's return ticket, from the order's ``tickets`` (``GET /orders/{id}``)."""
        if order.pk is None:
            return None
        answer = self.api.get(f"/orders/{order.pk}")
        tickets = answer.json().get("tickets", []) if answer.status_code == 200 else []
        return next((t for t in tickets if t.get("kind") == "refund" and t.get("machine") == "return_refund"), None)

    def _act(self, ticket: dict[str, Any], action: str, body: dict[str, Any], key: str, role: str = "admin") -> int:
        answer = self.by_role.get(role, self.api).post(f"/instances/{ticket['id']}/actions/{action}", body,
                               headers={"Idempotency-Key": key})
        return answer.status_code

    def _step(self, order: DrillOrder) -> float | None:  # noqa: PLR0911 - one branch a step
        """Take the order's next return step; seconds until the next try, or None when done."""
        planned, scenario = order.planned, self.platforms[order.channel].scenario
        step = order.returned_step
        if step == "deliver":
            current = scenario.get(order.number)
            if current is None or current.status != "shipped":
                return 1.0  # the write-back has not reached the platform yet
            scenario.deliver(order.number)
            scenario.refund(order.number, 1, planned.returned)
            with self.journal.lock:
                self.journal.returns_opened += 1
            order.returned_step = "agree"
            return self.clock.seconds(1800)
        if step == "agree":
            scenario.refund(order.number, 1, planned.returned, status="agreed")
            order.returned_step = "waybill"
            return self.clock.seconds(3600)
        ticket = self._ticket(order)
        if ticket is None or (step == "waybill" and ticket["state"] != "待退货"):
            return 1.0  # the platform's refund has not reached the ticket yet
        key = f"drill-{order.channel}-{order.order_id}"
        if step == "waybill":
            if self._act(ticket, "登记退货物流", {"return_tracking_no": f"SF9{order.planned.seq:011d}"},
                         f"{key}-waybill") >= 400:
                return 1.0
            order.returned_step = "qc"
            return self.clock.seconds(2 * 3600)
        if step == "qc":
            if planned.qc_fails:
                if self._act(ticket, "质检不通过", {"qc_result": "外包装破损"}, f"{key}-qc", "warehouse") >= 400:
                    return 1.0
                with self.journal.lock:
                    self.journal.qc_failed += 1
                order.returned_step = "negotiate"
                return self.clock.seconds(1800)
            if self._act(ticket, "质检通过", {"qc_result": "合格"}, f"{key}-qc", "warehouse") >= 400:
                return 1.0
            order.returned_step = "approve"
            return self.clock.seconds(1800)
        if step == "negotiate":
            if self._act(ticket, "协商退款", {}, f"{key}-negotiate", "cs_lead") >= 400:
                return 1.0
            order.returned_step = "approve"
            return self.clock.seconds(1800)
        if step == "approve":
            if ticket["state"] == "已关闭":
                with self.journal.lock:
                    self.journal.returns_closed += 1
                return None
            event = self.approvals.approval_event(str(ticket["id"]), result="agree",
                                                  when_ms=int(time.time() * 1000))
            for attempt in range(2 if planned.approval_twice else 1):
                query, body = self.approvals.request(event, timestamp_ms=int(time.time() * 1000))
                answer = requests.post(f"{self.hook_bases[0]}/api/v1/hooks/dingtalk_approval", params=query,
                                       json=body, timeout=30)
                with self.journal.lock:
                    self.journal.approvals_sent += 1
                    self.journal.approvals_repeated += attempt
                if answer.status_code >= 400:
                    self.journal.error(f"dingtalk approval {answer.status_code}")
            order.returned_step = "approve"
            return 1.0
        return None
