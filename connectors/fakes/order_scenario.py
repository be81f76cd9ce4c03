"""A seeded, platform-neutral history of a shop's orders, driven by a clock, for the fake
platforms to render in their own field names (tests and the demo).

One :class:`OrderScenario` is one shop on one platform. It knows buyers (name, mobile phone,
a Chinese address across provinces, with current district names), lines carrying the
merchant's SKU codes (:class:`Product`: code, title, unit price in fen), amounts in fen
(goods, platform and shop discounts split over the lines, freight, paid total), created,
paid and updated times, and what happens later: payment, shipment (courier and tracking
number), delivery, completion, a cancellation before payment or before shipment, and refunds
of a line with one of the twelve reasons of ``templates_library/return_reasons.json``.

Time comes only from ``now`` (unix seconds, like :attr:`connectors.fakes.base.FakeServer.now`),
so a test that moves a manual clock moves the shop. Two ways to make orders:

- automatic: ``rate_per_minute`` orders a minute on average (exponential gaps), now and then a
  burst of ``burst_size`` orders within a minute; each order's life (paid after …, shipped
  after …, refunded or cancelled with some probability) is drawn when it is created, from the
  :class:`Lifecycle` timings. :meth:`OrderScenario.advance` applies everything due up to
  ``now`` in time order, so the history depends on the seed and the clock only, not on how
  often it is called. ``rate_per_minute=0`` (the default) makes none.
- by hand (tests): :meth:`~OrderScenario.create`, :meth:`~OrderScenario.pay`,
  :meth:`~OrderScenario.ship`, :meth:`~OrderScenario.deliver`, :meth:`~OrderScenario.complete`,
  :meth:`~OrderScenario.cancel`, :meth:`~OrderScenario.refund` act at ``now``.

Every change bumps the order's ``version`` and moves ``updated_at`` (whole seconds, strictly
later than the last change of that order, so a platform that shows seconds still tells the
versions apart) and is announced to the :meth:`~OrderScenario.on_change` listeners (a fake
that pushes sends its message from there). A fake lists orders with
:meth:`~OrderScenario.modified_between` and reads one with :meth:`~OrderScenario.get`.

``status`` is the canonical order status (pending_payment, awaiting_shipment, shipped,
delivered, completed, cancelled); each fake maps it to its platform's codes. ``number`` is a
shop-wide sequence from which each fake derives its own order id format.

A shop can carry a :class:`MisconfiguredCoupon` (:meth:`OrderScenario.misconfigure_coupon`):
a coupon entered wrong on that one platform, which stacks on every order that reaches its
threshold — the demo's source of 价格异常 orders (charged less than the promotion allows).

This module knows no platform: no field names, no ids, no signing.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from engine.logs import get_logger

log = get_logger(__name__)

PENDING_PAYMENT = "pending_payment"
AWAITING_SHIPMENT = "awaiting_shipment"
SHIPPED = "shipped"
DELIVERED = "delivered"
COMPLETED = "completed"
CANCELLED = "cancelled"

# Refund states a platform distinguishes, in the order they happen.
REFUND_REQUESTED = "requested"
REFUND_AGREED = "agreed"
REFUND_SUCCESS = "success"
REFUND_CLOSED = "closed"


@dataclass(frozen=True)
class Product:
    """A SKU of the shop: the merchant's code (our ``sku_id``), its title and unit price in fen."""

    code: str
    title: str
    price: int


# The demo shop's SKUs (the codes the inventory demo stocks and lists on the fake platforms).
DEFAULT_PRODUCTS: tuple[Product, ...] = (
    Product("TEA-LJ-250", "西湖龙井 250g", 16800),
    Product("TEA-PE-357", "云南普洱饼 357g", 23900),
    Product("TSHIRT-W-M", "纯棉白T恤 M", 8990),
    Product("TSHIRT-W-L", "纯棉白T恤 L", 8990),
    Product("SCARF-SILK", "真丝围巾", 31700),
)

# (province, city, district, street and number) — current official names; municipalities
# carry the municipality as city.
ADDRESSES: tuple[tuple[str, str, str, str], ...] = (
    ("浙江省", "杭州市", "西湖区", "文三路 90 号东部软件园 3 号楼"),
    ("浙江省", "杭州市", "临平区", "南苑街道迎宾路 368 号"),
    ("浙江省", "宁波市", "鄞州区", "首南街道天童南路 588 号"),
    ("江苏省", "南京市", "鼓楼区", "中山北路 30 号"),
    ("江苏省", "苏州市", "工业园区", "星湖街 328 号"),
    ("广东省", "深圳市", "南山区", "科技园科苑路 15 号"),
    ("广东省", "广州市", "天河区", "天河路 208 号"),
    ("上海市", "上海市", "浦东新区", "张江镇祖冲之路 887 弄 12 号"),
    ("北京市", "北京市", "朝阳区", "建国路 87 号 SKP 写字楼 6 层"),
    ("天津市", "天津市", "和平区", "南京路 189 号"),
    ("重庆市", "重庆市", "璧山区", "璧城街道东林大道 66 号"),
    ("山东省", "济南市", "莱芜区", "凤城街道鲁中东大街 12 号"),
    ("山东省", "青岛市", "市南区", "香港中路 10 号"),
    ("四川省", "成都市", "武侯区", "天府大道北段 1700 号"),
    ("湖北省", "武汉市", "洪山区", "珞喻路 1037 号"),
    ("湖南省", "长沙市", "岳麓区", "麓山南路 932 号"),
    ("福建省", "厦门市", "思明区", "思明南路 422 号"),
    ("河南省", "郑州市", "金水区", "花园路 39 号"),
    ("陕西省", "西安市", "雁塔区", "科技路 48 号"),
    ("辽宁省", "沈阳市", "和平区", "南京北街 206 号"),
    ("云南省", "昆明市", "五华区", "东风西路 11 号"),
    ("广西壮族自治区", "南宁市", "青秀区", "民族大道 136 号"),
    ("新疆维吾尔自治区", "乌鲁木齐市", "天山区", "解放南路 68 号"),
    ("海南省", "三亚市", "吉阳区", "迎宾路 369 号"),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明",
         "超", "秀兰", "霞", "平", "刚", "桂英", "思远", "雨桐", "子涵")
PHONE_PREFIXES = ("133", "135", "136", "138", "139", "150", "152", "157", "158", "166", "176", "177", "180",
                  "183", "186", "187", "188", "189", "191", "199")
COURIERS = (("ZTO", "中通快递", "7531"), ("YTO", "圆通速递", "YT88"), ("STO", "申通快递", "7730"),
            ("YUNDA", "韵达快递", "4318"), ("SF", "顺丰速运", "SF14"), ("JD", "京东物流", "JDVA"))
FREIGHTS = (0, 0, 0, 600, 800, 1000)
MESSAGES = ("", "", "", "请尽快发货", "送人的，不要放价格单", "周末送货", "快递放门卫")


def return_reasons() -> list[dict[str, Any]]:
    """The twelve standard return reasons (``code``, ``label`` …) of the templates library."""
    text = resources.files("templates_library").joinpath("return_reasons.json").read_text(encoding="utf-8")
    return list(json.loads(text)["reasons"])


@dataclass(frozen=True)
class Lifecycle:
    """How long each step of an order's life takes (seconds, drawn uniformly in each range)
    and how often it goes another way."""

    pay_after: tuple[float, float] = (10, 600)
    unpaid_share: float = 0.08  # never paid: cancelled after pay_timeout
    pay_timeout: float = 1800
    ship_after: tuple[float, float] = (1800, 6 * 3600)
    cancel_before_ship_share: float = 0.05
    deliver_after: tuple[float, float] = (86400, 3 * 86400)
    complete_after: tuple[float, float] = (7 * 86400, 10 * 86400)
    refund_share: float = 0.10  # of delivered orders: one line refunded
    refund_steps: tuple[float, float] = (3600, 86400)
    promise_ship_within: float = 48 * 3600


# The demo's pace: an order's life in minutes instead of days.
DEMO_LIFECYCLE = Lifecycle(pay_after=(5, 60), pay_timeout=180, ship_after=(60, 240), deliver_after=(120, 360),
                           complete_after=(300, 900), refund_steps=(30, 120), promise_ship_within=600)


@dataclass
class Buyer:
    name: str
    phone: str
    province: str
    city: str
    district: str
    street: str
    nick: str
    open_id: str

    @property
    def address(self) -> str:
        """The full address as a person writes it (province, city, district, street)."""
        city = "" if self.city == self.province else self.city
        return f"{self.province}{city}{self.district}{self.street}"


@dataclass
class Line:
    line_no: int  # 1, 2, … within the order
    sku_code: str
    title: str
    qty: int
    unit_price: int  # fen
    discount: int = 0  # fen: this line's share of the order's discounts

    @property
    def amount(self) -> int:
        return self.unit_price * self.qty

    @property
    def paid_amount(self) -> int:
        return self.amount - self.discount


@dataclass
class Refund:
    refund_no: int  # shop-wide sequence
    line_no: int
    sku_code: str
    amount: int  # fen
    reason_code: str
    reason: str  # the Chinese label
    status: str  # requested | agreed | success | closed
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Parcel:
    """A seller's shipment accepted by the platform (its ship API): the platform's carrier
    code and name, the tracking number and the lines it carries."""

    carrier_code: Any
    carrier_name: str
    tracking_no: str
    line_nos: tuple[int, ...]


@dataclass
class ScenarioOrder:
    number: int  # shop-wide sequence, from 1
    buyer: Buyer
    lines: list[Line]
    freight: int
    platform_discount: int
    seller_discount: int
    created_at: datetime
    updated_at: datetime
    status: str = PENDING_PAYMENT
    paid_at: datetime | None = None
    promised_ship_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    courier: tuple[str, str, str] | None = None  # (code, name, tracking number)
    buyer_message: str = ""
    refunds: list[Refund] = field(default_factory=list)
    parcels: list[Parcel] = field(default_factory=list)
    version: int = 1
    history: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def goods_amount(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def discount(self) -> int:
        return self.platform_discount + self.seller_discount

    @property
    def paid_amount(self) -> int:
        """What the buyer pays: goods less discounts plus freight (fen)."""
        return self.goods_amount - self.discount + self.freight

    @property
    def refunded_amount(self) -> int:
        return sum(r.amount for r in self.refunds if r.status == REFUND_SUCCESS)

    def snapshot(self) -> ScenarioOrder:
        """A copy a renderer can read without the scenario's lock."""
        return ScenarioOrder(**{**self.__dict__, "lines": [Line(**vars(x)) for x in self.lines],
                                "refunds": [Refund(**vars(r)) for r in self.refunds],
                                "parcels": list(self.parcels),
                                "history": list(self.history)})


Listener = Callable[[ScenarioOrder, str], None]


@dataclass(frozen=True)
class MisconfiguredCoupon:
    """A shop coupon set up wrong on one platform: meant as 满300减50 for a few buyers, it was
    entered with a ¥30 threshold, for everyone, stackable with every other discount. Every
    order created while it is set whose goods reach ``threshold`` (fen) gets ``amount`` (fen)
    more seller discount (never more than the goods still hold), split over the lines like
    the rest. It draws no random numbers, so the rest of a seeded history stays the same."""

    title: str = "满300减50（误设为满30减50，可叠加）"
    threshold: int = 3000
    amount: int = 5000


def split_by_amount(total: int, amounts: Sequence[int]) -> list[int]:
    """``total`` fen over lines in proportion to their amounts, whole fen, largest remainder
    first (ties to the larger amount, then the earlier line); shares sum to ``total``."""
    base = sum(amounts)
    if base <= 0 or total <= 0:
        return [0] * len(amounts)
    shares = [total * a // base for a in amounts]
    order = sorted(range(len(amounts)), key=lambda i: (-(total * amounts[i] % base), -amounts[i], i))
    for i in order[:total - sum(shares)]:
        shares[i] += 1
    return shares


class OrderScenario:
    """One shop's order history on one platform; see the module docstring."""

    repeat_buyer_share = 0.05  # a new order from a buyer who ordered before

    def __init__(self, *, seed: int = 1, now: Callable[[], float] = time.time,
                 products: Sequence[Product] = DEFAULT_PRODUCTS, rate_per_minute: float = 0.0,
                 burst_every: float = 900.0, burst_size: int = 8, lifecycle: Lifecycle = Lifecycle()) -> None:
        if not products:
            raise ValueError("a scenario needs at least one product")
        self.now = now
        self.products = list(products)
        self.rate_per_minute = rate_per_minute
        self.burst_every = burst_every
        self.burst_size = burst_size
        self.lifecycle = lifecycle
        self.reasons = return_reasons()
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._orders: dict[int, ScenarioOrder] = {}
        self._numbers = itertools.count(1)
        self._refund_numbers = itertools.count(1)
        self._due: list[tuple[float, int, Callable[[datetime], None]]] = []
        self._due_seq = itertools.count()
        self._listeners: list[Listener] = []
        self._pending: list[tuple[ScenarioOrder, str]] = []  # announced, not yet told to listeners
        self._telling = threading.Lock()
        self.misconfigured_coupon: MisconfiguredCoupon | None = None
        start = self.now()
        self._next_arrival = start + self._gap() if rate_per_minute > 0 else None
        self._next_burst = start + self._rng.uniform(0.5, 1.5) * burst_every if rate_per_minute > 0 else None

    def produce(self, rate_per_minute: float, *, lifecycle: Lifecycle | None = None) -> None:
        """From now on, make about ``rate_per_minute`` orders a minute by themselves (0: stop),
        with their lives drawn from ``lifecycle`` (default: the scenario's)."""
        with self._lock:
            self._apply_due()
            self.rate_per_minute = rate_per_minute
            if lifecycle is not None:
                self.lifecycle = lifecycle
            now = self.now()
            self._next_arrival = now + self._gap() if rate_per_minute > 0 else None
            self._next_burst = now + self._rng.uniform(0.5, 1.5) * self.burst_every if rate_per_minute > 0 else None
        self._tell()

    def misconfigure_coupon(self, coupon: MisconfiguredCoupon | None = MisconfiguredCoupon()) -> None:
        """From now on every new order reaching the coupon's threshold gets it (None: fixed)."""
        with self._lock:
            self.misconfigured_coupon = coupon

    # --- reading -----------------------------------------------------------------------------

    def get(self, number: int) -> ScenarioOrder | None:
        """A copy of order ``number`` as it is now (after applying what is due)."""
        self.advance()
        with self._lock:
            order = self._orders.get(number)
            return order.snapshot() if order else None

    def orders(self) -> list[ScenarioOrder]:
        """Copies of every order, oldest first."""
        self.advance()
        with self._lock:
            return [o.snapshot() for o in self._orders.values()]

    def modified_between(self, start: datetime, end: datetime) -> list[ScenarioOrder]:
        """Copies of the orders last changed in ``[start, end)``, most recently changed first
        (ties: higher number first), as the platforms' increment APIs order them."""
        self.advance()
        with self._lock:
            found = [o.snapshot() for o in self._orders.values() if start <= o.updated_at < end]
        return sorted(found, key=lambda o: (o.updated_at, o.number), reverse=True)

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(order copy, event)`` after every change (event: created, paid, shipped,
        delivered, completed, cancelled, refund_requested, refund_agreed, refund_success)."""
        with self._lock:
            self._listeners.append(listener)

    # --- time --------------------------------------------------------------------------------

    def advance(self) -> list[int]:
        """Apply every arrival and planned step due up to ``now``, in time order; the numbers of
        the orders that changed."""
        with self._lock:
            changed = self._apply_due()
        self._tell()
        return changed

    def _apply_due(self) -> list[int]:
        with self._lock:
            now = self.now()
            while True:
                arrival = min((t for t in (self._next_arrival, self._next_burst) if t is not None), default=None)
                step = self._due[0][0] if self._due else None
                if arrival is not None and arrival <= now and (step is None or arrival <= step):
                    if arrival == self._next_arrival:
                        self._next_arrival = arrival + self._gap()
                        self._create_at(_at(arrival), planned=True)
                    else:
                        self._next_burst = arrival + self._rng.uniform(0.5, 1.5) * self.burst_every
                        for k in range(self.burst_size):
                            when = arrival + k * self._rng.uniform(1, 60 / max(1, self.burst_size))
                            self._schedule(when, self._arrival)
                    continue
                if step is not None and step <= now:
                    when, _, action = heapq.heappop(self._due)
                    action(_at(when))
                    continue
                return sorted({order.number for order, _ in self._pending})

    def _gap(self) -> float:
        return self._rng.expovariate(self.rate_per_minute / 60.0)

    def _schedule(self, when: float, action: Callable[[datetime], None]) -> None:
        heapq.heappush(self._due, (when, next(self._due_seq), action))

    # --- by hand -----------------------------------------------------------------------------

    def create(self, lines: Sequence[tuple[str, int]] | None = None, *, paid: bool = True,
               freight: int | None = None, platform_discount: int | None = None,
               seller_discount: int | None = None) -> ScenarioOrder:
        """A new order now: ``lines`` as (SKU code, qty) (else drawn), paid at once unless
        ``paid=False``; nothing more is planned for it (move it on by hand)."""
        with self._lock:
            self._apply_due()
            now = _at(self.now())
            order = self._new_order(now, lines, freight, platform_discount, seller_discount)
            self._announce(order, "created")
            if paid:
                self._pay(order, now)
            copy = order.snapshot()
        self._tell()
        return copy

    def pay(self, number: int) -> ScenarioOrder:
        return self._by_hand(number, self._pay)

    def ship(self, number: int) -> ScenarioOrder:
        return self._by_hand(number, self._ship)

    def ship_parcel(self, number: int, carrier_code: Any, carrier_name: str, tracking_no: str,
                    line_nos: Sequence[int] | None = None) -> ScenarioOrder:
        """The seller ships lines ``line_nos`` (all when None) through the platform's ship API;
        the order is shipped once every line is in a parcel, with this parcel's courier."""
        def act(order: ScenarioOrder, at: datetime) -> None:
            self._require(order, AWAITING_SHIPMENT, "ship")
            known = {line.line_no for line in order.lines}
            wanted = tuple(sorted(set(line_nos))) if line_nos else tuple(sorted(known))
            if not set(wanted) <= known:
                raise InvalidStep(f"order {order.number} has no line {sorted(set(wanted) - known)}")
            order.parcels.append(Parcel(carrier_code, carrier_name, tracking_no, wanted))
            order.courier = (str(carrier_code), carrier_name, tracking_no)
            if {n for p in order.parcels for n in p.line_nos} >= known:
                order.shipped_at = self._touch(order, at)
                order.status = SHIPPED
                self._announce(order, "shipped")
            else:
                self._touch(order, at)
                self._announce(order, "partly_shipped")
        return self._by_hand(number, act)

    def deliver(self, number: int) -> ScenarioOrder:
        return self._by_hand(number, self._deliver)

    def complete(self, number: int) -> ScenarioOrder:
        return self._by_hand(number, self._complete)

    def cancel(self, number: int) -> ScenarioOrder:
        """The buyer or the platform closes the order (before shipment; a paid order is refunded
        in full with reason 拍错/不想要)."""
        return self._by_hand(number, self._cancel)

    def refund(self, number: int, line_no: int = 1, reason_code: str = "size_mismatch",
               status: str = REFUND_REQUESTED) -> ScenarioOrder:
        """The buyer asks for line ``line_no``'s paid amount back (a new refund), or, for a line
        already under refund, its refund moves to ``status`` (agreed, success, closed)."""
        def act(order: ScenarioOrder, at: datetime) -> None:
            current = next((r for r in order.refunds if r.line_no == line_no
                            and r.status not in (REFUND_SUCCESS, REFUND_CLOSED)), None)
            if current is None:
                self._open_refund(order, at, line_no, reason_code)
                if status != REFUND_REQUESTED:
                    self._move_refund(order, at, order.refunds[-1], status)
            else:
                self._move_refund(order, at, current, status)
        return self._by_hand(number, act)

    def _by_hand(self, number: int, act: Callable[[ScenarioOrder, datetime], None]) -> ScenarioOrder:
        with self._lock:
            self._apply_due()
            order = self._orders[number]
            act(order, _at(self.now()))
            copy = order.snapshot()
        self._tell()
        return copy

    # --- the steps ---------------------------------------------------------------------------

    def _new_order(self, at: datetime, lines: Sequence[tuple[str, int]] | None, freight: int | None,
                   platform_discount: int | None, seller_discount: int | None) -> ScenarioOrder:
        rng = self._rng
        number = next(self._numbers)
        if self._orders and rng.random() < self.repeat_buyer_share:
            buyer = Buyer(**vars(rng.choice(list(self._orders.values())).buyer))
        else:
            province, city, district, street = rng.choice(ADDRESSES)
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            buyer = Buyer(name, phone, province, city, district, street, nick=f"{name[0]}**{phone[-2:]}",
                          open_id=f"AAE{rng.getrandbits(64):016x}")
        by_code = {p.code: p for p in self.products}
        if lines is None:
            picked = rng.sample(self.products, k=min(len(self.products), rng.choice((1, 1, 1, 2, 2, 3))))
            lines = [(p.code, rng.choice((1, 1, 1, 2, 3))) for p in picked]
        made = []
        for i, (code, qty) in enumerate(lines, start=1):
            product = by_code.get(code) or Product(code, code, 9900)
            made.append(Line(i, code, product.title, qty, product.price))
        goods = sum(x.amount for x in made)
        if platform_discount is None:
            platform_discount = rng.choice((0, 0, 0, 300, 500, 1000)) if goods > 3000 else 0
        if seller_discount is None:
            seller_discount = 2000 if goods >= 30000 else (1000 if goods >= 20000 and rng.random() < 0.5 else 0)
        if platform_discount + seller_discount > goods:
            raise ValueError("discounts larger than the goods amount")
        coupon = self.misconfigured_coupon
        if coupon is not None and goods >= coupon.threshold:
            seller_discount += min(coupon.amount, goods - platform_discount - seller_discount)
        for line, share in zip(made, split_by_amount(platform_discount + seller_discount, [x.amount for x in made])):
            line.discount = share
        order = ScenarioOrder(number=number, buyer=buyer, lines=made,
                              freight=rng.choice(FREIGHTS) if freight is None else freight,
                              platform_discount=platform_discount, seller_discount=seller_discount,
                              created_at=at, updated_at=at, buyer_message=rng.choice(MESSAGES))
        order.history.append((at, "created"))
        self._orders[number] = order
        return order

    def _arrival(self, at: datetime) -> None:
        self._create_at(at, planned=True)

    def _create_at(self, at: datetime, *, planned: bool) -> ScenarioOrder:
        order = self._new_order(at, None, None, None, None)
        self._announce(order, "created")
        if planned:
            self._plan(order, at.timestamp())
        return order

    def _plan(self, order: ScenarioOrder, t: float) -> None:
        """Draw the order's life now (so the history depends on the seed and clock only)."""
        life, rng, n = self.lifecycle, self._rng, order.number
        if rng.random() < life.unpaid_share:
            self._schedule(t + life.pay_timeout, lambda at: self._step(n, at, self._cancel))
            return
        t += rng.uniform(*life.pay_after)
        self._schedule(t, lambda at: self._step(n, at, self._pay))
        if rng.random() < life.cancel_before_ship_share:
            self._schedule(t + rng.uniform(*life.ship_after) / 2, lambda at: self._step(n, at, self._cancel))
            return
        t += rng.uniform(*life.ship_after)
        self._schedule(t, lambda at: self._step(n, at, self._ship))
        t += rng.uniform(*life.deliver_after)
        self._schedule(t, lambda at: self._step(n, at, self._deliver))
        if rng.random() < life.refund_share:
            line_no = rng.randrange(1, len(order.lines) + 1)
            reason = rng.choice(self.reasons)["code"]
            r = t + rng.uniform(*life.refund_steps)
            self._schedule(r, lambda at: self._step(n, at, lambda o, a: self._open_refund(o, a, line_no, reason)))
            for status in (REFUND_AGREED, REFUND_SUCCESS):
                r += rng.uniform(*life.refund_steps)
                self._schedule(r, self._refund_step(n, status))
        t += rng.uniform(*life.complete_after)
        self._schedule(t, lambda at: self._step(n, at, self._complete))

    def _refund_step(self, number: int, status: str) -> Callable[[datetime], None]:
        return lambda at: self._step(number, at, lambda o, a: self._move_last_refund(o, a, status))

    def _step(self, number: int, at: datetime, act: Callable[[ScenarioOrder, datetime], None]) -> None:
        order = self._orders.get(number)
        if order is not None:
            try:
                act(order, at)
            except InvalidStep:
                pass  # a person moved the order by hand meanwhile; the plan gives way

    def _pay(self, order: ScenarioOrder, at: datetime) -> None:
        self._require(order, PENDING_PAYMENT, "pay")
        order.paid_at = self._touch(order, at)
        order.promised_ship_at = order.paid_at + timedelta(seconds=self.lifecycle.promise_ship_within)
        order.status = AWAITING_SHIPMENT
        self._announce(order, "paid")

    def _ship(self, order: ScenarioOrder, at: datetime) -> None:
        self._require(order, AWAITING_SHIPMENT, "ship")
        code, name, prefix = self._rng.choice(COURIERS)
        order.courier = (code, name, f"{prefix}{self._rng.randrange(10**10):010d}")
        order.shipped_at = self._touch(order, at)
        order.status = SHIPPED
        self._announce(order, "shipped")

    def _deliver(self, order: ScenarioOrder, at: datetime) -> None:
        self._require(order, SHIPPED, "deliver")
        order.delivered_at = self._touch(order, at)
        order.status = DELIVERED
        self._announce(order, "delivered")

    def _complete(self, order: ScenarioOrder, at: datetime) -> None:
        self._require(order, DELIVERED, "complete")
        order.completed_at = self._touch(order, at)
        order.status = COMPLETED
        self._announce(order, "completed")

    def _cancel(self, order: ScenarioOrder, at: datetime) -> None:
        self._require(order, (PENDING_PAYMENT, AWAITING_SHIPMENT), "cancel")
        order.cancelled_at = self._touch(order, at)
        if order.status == AWAITING_SHIPMENT:
            for line in order.lines:
                refund = Refund(next(self._refund_numbers), line.line_no, line.sku_code, line.paid_amount,
                                "ordered_by_mistake", self._reason_label("ordered_by_mistake"), REFUND_SUCCESS,
                                order.cancelled_at, order.cancelled_at)
                order.refunds.append(refund)
        order.status = CANCELLED
        self._announce(order, "cancelled")

    def _open_refund(self, order: ScenarioOrder, at: datetime, line_no: int, reason_code: str) -> None:
        if order.status in (PENDING_PAYMENT, CANCELLED):
            raise InvalidStep(f"order {order.number} is {order.status}: nothing to refund")
        line = next((x for x in order.lines if x.line_no == line_no), None)
        if line is None:
            raise InvalidStep(f"order {order.number} has no line {line_no}")
        touched = self._touch(order, at)
        order.refunds.append(Refund(next(self._refund_numbers), line_no, line.sku_code, line.paid_amount,
                                    reason_code, self._reason_label(reason_code), REFUND_REQUESTED, touched, touched))
        self._announce(order, "refund_requested")

    def _move_last_refund(self, order: ScenarioOrder, at: datetime, status: str) -> None:
        if not order.refunds or order.refunds[-1].status in (REFUND_SUCCESS, REFUND_CLOSED):
            raise InvalidStep(f"order {order.number} has no open refund")
        self._move_refund(order, at, order.refunds[-1], status)

    def _move_refund(self, order: ScenarioOrder, at: datetime, refund: Refund, status: str) -> None:
        if status not in (REFUND_AGREED, REFUND_SUCCESS, REFUND_CLOSED):
            raise InvalidStep(f"a refund cannot move to {status!r}")
        refund.updated_at = self._touch(order, at)
        refund.status = status
        self._announce(order, f"refund_{status}")

    # --- helpers -----------------------------------------------------------------------------

    def _reason_label(self, code: str) -> str:
        for reason in self.reasons:
            if reason["code"] == code:
                return str(reason["label"])
        raise InvalidStep(f"unknown return reason {code!r}")

    @staticmethod
    def _require(order: ScenarioOrder, states: str | tuple[str, ...], what: str) -> None:
        allowed = (states,) if isinstance(states, str) else states
        if order.status not in allowed:
            raise InvalidStep(f"order {order.number} is {order.status}: cannot {what}")

    @staticmethod
    def _touch(order: ScenarioOrder, at: datetime) -> datetime:
        """Move ``updated_at`` to ``at`` (whole seconds), strictly after the last change."""
        at = at.replace(microsecond=0)
        if at <= order.updated_at:
            at = order.updated_at + timedelta(seconds=1)
        order.updated_at = at
        order.version += 1
        return at

    def _announce(self, order: ScenarioOrder, event: str) -> None:
        order.history.append((order.updated_at, event))
        self._pending.append((order.snapshot(), event))

    def _tell(self) -> None:
        """Tell the listeners what was announced, in order, outside the scenario's lock (a
        listener may call a server that reads this scenario). One thread tells at a time; a
        thread that finds another telling leaves its news to that one, which keeps going until
        nothing is left (so a listener's own reads never wait for themselves)."""
        while True:
            if not self._telling.acquire(blocking=False):
                return
            try:
                while True:
                    with self._lock:
                        pending, self._pending = self._pending, []
                        listeners = list(self._listeners)
                    if not pending:
                        break
                    for copy, event in pending:
                        for listener in listeners:
                            try:
                                listener(copy, event)
                            except Exception:  # one failing listener must not silence the others
                                log.exception("order scenario listener failed", order=copy.number, event=event)
            finally:
                self._telling.release()
            with self._lock:
                if not self._pending:
                    return


class InvalidStep(ValueError):
    """A change the order's state does not allow (e.g. shipping a cancelled order)."""


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC)
