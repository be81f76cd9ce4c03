"""The declaration model: one typed, immutable tree shared by the DSL and the JSON form.

This module owns the shape of every declaration kind (source, mapping, cleaning, promotion,
machine, hook, alert, risk, channel, follow, fulfillment), of expressions, and of a ruleset. It holds no parsing,
printing, checking or evaluation logic and imports nothing from the engine.

Conventions
- Every node is a frozen dataclass; containers are tuples, so nodes are hashable.
- ``line``/``col`` (1-based, from the DSL) and ``pointer`` (a JSON pointer, from JSON input)
  locate a node in its source. They are excluded from equality, so a model parsed from DSL
  equals the same model loaded from JSON.
- ``locs`` locates single words inside a node (each tier name of a promotion's ``order``,
  each state of an action's ``from``, a notify's channel …) so errors about one word can
  point at it: ``node.loc("order", 1)`` is a :class:`Loc` with the line/col of that word in
  DSL text, or the pointer ``/declarations/3/order/1`` for JSON input. ``locs`` is also
  excluded from equality and from the JSON form; a node built in code has none, and
  ``loc()`` then falls back to the node's own position. Entries named ``kw:KEY`` hold where a
  clause keyword was written in DSL text (``kw:then`` of an action, ``kw:when`` of a risk …):
  where a line that ``fmt`` prints starts, so comments stay next to it.
- Money is integer fen (¥12.50 -> 1250); durations are integer seconds; percents are integer
  basis points (15% -> 1500, 2.5% -> 250). No floats anywhere.
- Names of roles, states, tiers, channels and hooks are kept as written (Chinese or English);
  :mod:`dsl.order_model` maps role spellings to their canonical English names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Union

__all__ = [
    "Node", "Expr", "Literal", "Name", "Compare", "BoolOp", "Not", "Neg", "Arith", "Call", "In",
    "ListExpr", "MapEntry", "MapTable", "FieldMapping", "Each", "Aggregate",
    "EnvRef", "Setting", "Binding",
    "Pull", "SourceDecl", "MappingDecl", "NormalizeStep", "DropStep", "SetStep", "CleaningStep",
    "CleaningDecl",
    "PercentOff", "AmountOff", "EveryOff", "FixedPrice", "Discount", "Rule", "Tier", "GiftItem",
    "Gift", "TagExclusion", "RuleConflict", "Exclusion", "RegionFreight", "FreightTemplate",
    "PriceCheck", "PromotionDecl",
    "DataField", "State", "Notify", "CallEffect", "Archive", "SetField", "OpenTicket", "Effect",
    "Action", "DeadlineHandler", "StateMapping", "MachineDecl",
    "HookDecl", "ChannelDecl", "Measure", "AlertDecl", "RiskDecl", "StatusAction", "FollowDecl",
    "Declaration", "Ruleset",
    "ShipWarning", "FulfillmentDecl",
    "Loc", "UNITS", "MONEY", "PERCENT", "DURATION", "COUNT", "TEXT", "BOOL",
]

MONEY = "money"
PERCENT = "percent"
DURATION = "duration"
COUNT = "count"
TEXT = "text"
BOOL = "bool"
UNITS = (MONEY, PERCENT, DURATION, COUNT, TEXT, BOOL)


@dataclass(frozen=True)
class Loc:
    """Where one word was written: 1-based ``line``/``col`` in DSL text (0 when unknown), or
    the JSON ``pointer`` of the value for JSON input."""

    line: int = 0
    col: int = 0
    pointer: str = ""


@dataclass(frozen=True, kw_only=True)
class Node:
    """Base of every model node: a source position that never takes part in equality.

    ``locs`` pairs a field name with one :class:`Loc` per word of that field (one for a plain
    name, one per element for a tuple of names); see :meth:`loc`."""

    line: int = field(default=0, compare=False, repr=False)
    col: int = field(default=0, compare=False, repr=False)
    pointer: str = field(default="", compare=False, repr=False)
    locs: tuple[tuple[str, tuple[Loc, ...]], ...] = field(default=(), compare=False, repr=False)

    kind: ClassVar[str] = "node"

    def loc(self, name: str, index: int = 0) -> Loc:
        """Where word ``index`` of field ``name`` was written; the node's own position when
        that word's position is not known (nodes built in code, or after ``replace``)."""
        for field_name, places in self.locs:
            if field_name == name:
                if 0 <= index < len(places):
                    return places[index]
                break
        return Loc(self.line, self.col, self.pointer)


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Literal(Node):
    """A constant. ``value`` is int for money (fen), percent (basis points), duration (seconds)
    and count; str for text; bool for bool."""

    value: int | str | bool
    unit: str
    kind: ClassVar[str] = "literal"


@dataclass(frozen=True)
class Name(Node):
    """A dotted field path such as ``customer.level`` or ``order.red_packet``."""

    path: tuple[str, ...]
    kind: ClassVar[str] = "name"

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Compare(Node):
    """``left op right`` with op one of == != < <= > >=."""

    op: str
    left: Expr
    right: Expr
    kind: ClassVar[str] = "compare"


@dataclass(frozen=True)
class BoolOp(Node):
    """``a and b and c`` / ``a or b`` (op is "and" or "or"; at least two operands)."""

    op: str
    operands: tuple[Expr, ...]
    kind: ClassVar[str] = "boolop"


@dataclass(frozen=True)
class Not(Node):
    """``not <condition>``."""

    operand: Expr
    kind: ClassVar[str] = "not"


@dataclass(frozen=True)
class Neg(Node):
    """Unary minus."""

    operand: Expr
    kind: ClassVar[str] = "neg"


@dataclass(frozen=True)
class Arith(Node):
    """``left op right`` with op one of + - * /."""

    op: str
    left: Expr
    right: Expr
    kind: ClassVar[str] = "arith"


@dataclass(frozen=True)
class Call(Node):
    """A call of a whitelisted function, e.g. ``concat(a, b)`` or ``from_unix(pay_time)``."""

    func: str
    args: tuple[Expr, ...] = ()
    kind: ClassVar[str] = "call"


@dataclass(frozen=True)
class In(Node):
    """``item in container`` (``negated``: ``item not in container``)."""

    item: Expr
    container: Expr
    negated: bool = False
    kind: ClassVar[str] = "in"


@dataclass(frozen=True)
class ListExpr(Node):
    """``["新疆", "西藏"]``."""

    items: tuple[Expr, ...] = ()
    kind: ClassVar[str] = "list"


@dataclass(frozen=True)
class MapEntry(Node):
    """``2: "待发货"``: one entry of a ``map`` table."""

    key: Literal
    value: Literal
    kind: ClassVar[str] = "map_entry"


@dataclass(frozen=True)
class MapTable(Node):
    """``order_status map { 2: "awaiting_shipment", 3: "shipped", else "paid_hold" }``
    (mapping declarations only). A code not in the table gives ``default`` when the table has
    an ``else``; without one, a mapping refuses the payload."""

    source: Expr
    entries: tuple[MapEntry, ...]
    default: Literal | None = None
    kind: ClassVar[str] = "map_table"


@dataclass(frozen=True)
class FieldMapping(Node):
    """``target = value`` inside a mapping or an ``each`` block."""

    target: tuple[str, ...]
    value: Expr
    kind: ClassVar[str] = "field_mapping"


@dataclass(frozen=True)
class Each(Node):
    """``each sku_order_list { sku_id = out_sku_id  qty = item_num }`` (mapping only): one
    element of a list target (``lines``, ``refunds``) per element of the payload list at
    ``source`` (a dotted path, e.g. Taobao's ``orders.order``), keeping only those for which
    ``where`` holds (``each orders.order where refund_id != "" { … }``)."""

    source: Name
    fields: tuple[FieldMapping, ...]
    where: Expr | None = None
    kind: ClassVar[str] = "each"


@dataclass(frozen=True)
class Aggregate(Node):
    """A windowed aggregate over stored records, for alerts and risk rules.

    ``count(orders by buyer_phone within 1h)``,
    ``distinct(receiver.city of orders by buyer_phone within 1h)``,
    ``count(returns where reason == "面料起球")``.
    ``func`` is count | distinct | sum | avg | min | max; ``collection`` is orders | order_lines |
    returns | tickets | shipments | stock (each SKU's stock now, for alerts); ``within`` is seconds.
    """

    func: str
    collection: str
    of: Expr | None = None
    where: Expr | None = None
    by: Name | None = None
    within: int | None = None
    kind: ClassVar[str] = "aggregate"


Expr = Union[Literal, Name, Compare, BoolOp, Not, Neg, Arith, Call, In, ListExpr, MapTable, Each,
             Aggregate]


# --------------------------------------------------------------------------- shared pieces


@dataclass(frozen=True)
class EnvRef(Node):
    """``env DOUYIN_APP_KEY``: a secret read from the environment at run time."""

    var: str
    kind: ClassVar[str] = "env"


@dataclass(frozen=True)
class Setting(Node):
    """``key env VAR`` or ``key "literal"`` inside a channel, hook or source."""

    key: str
    value: EnvRef | Literal
    kind: ClassVar[str] = "setting"


@dataclass(frozen=True)
class Binding(Node):
    """``name = expr`` inside a hook (e.g. ``ticket = payload.businessId``)."""

    name: str
    value: Expr
    kind: ClassVar[str] = "binding"


# --------------------------------------------------------------------------- source, mapping, cleaning


@dataclass(frozen=True)
class Pull(Node):
    """``pull orders every 60s``."""

    what: str
    every: int
    kind: ClassVar[str] = "pull"


@dataclass(frozen=True)
class SourceDecl(Node):
    """A platform connection: ``source 抖店 { platform douyin  credentials env K, env S
    pull orders every 60s  retry 30s, 2m }``."""

    name: str
    title: str | None = None
    platform: str | None = None
    credentials: tuple[EnvRef, ...] = ()
    pulls: tuple[Pull, ...] = ()
    retry: tuple[int, ...] = ()
    kind: ClassVar[str] = "source"


@dataclass(frozen=True)
class MappingDecl(Node):
    """Field mappings from a source's raw payload (``name`` is the source) to the order."""

    name: str
    fields: tuple[FieldMapping, ...] = ()
    kind: ClassVar[str] = "mapping"


@dataclass(frozen=True)
class NormalizeStep(Node):
    """``normalize receiver.address to region`` (to: region | phone | text)."""

    target: tuple[str, ...]
    to: str
    kind: ClassVar[str] = "normalize"


@dataclass(frozen=True)
class DropStep(Node):
    """``drop when <condition>``: discard matching orders (test orders, blacklists)."""

    when: Expr
    kind: ClassVar[str] = "drop"


@dataclass(frozen=True)
class SetStep(Node):
    """``set target = value [when condition]``."""

    target: tuple[str, ...]
    value: Expr
    when: Expr | None = None
    kind: ClassVar[str] = "set"


CleaningStep = Union[NormalizeStep, DropStep, SetStep]


@dataclass(frozen=True)
class CleaningDecl(Node):
    """Cleaning steps applied, in order, to every mapped order."""

    name: str
    steps: tuple[CleaningStep, ...] = ()
    kind: ClassVar[str] = "cleaning"


# --------------------------------------------------------------------------- promotion


@dataclass(frozen=True)
class PercentOff(Node):
    """``percent_off 5% [on lines where <expr>] [cap ¥50]``; ``percent`` in basis points."""

    percent: int
    lines_where: Expr | None = None
    cap: int | None = None
    kind: ClassVar[str] = "percent_off"


@dataclass(frozen=True)
class AmountOff(Node):
    """``amount_off ¥40 split by amount`` or ``amount_off order.red_packet ...``.

    ``amount`` is a money Literal or a Name of a money field; ``split_by`` is None (default:
    by amount) or "amount".
    """

    amount: Expr
    split_by: str | None = None
    lines_where: Expr | None = None
    kind: ClassVar[str] = "amount_off"


@dataclass(frozen=True)
class EveryOff(Node):
    """每满减: ``every ¥300 off ¥40 [cap ¥200] [split by amount]``."""

    every: int
    off: int
    cap: int | None = None
    split_by: str | None = None
    lines_where: Expr | None = None
    kind: ClassVar[str] = "every_off"


@dataclass(frozen=True)
class FixedPrice(Node):
    """``fixed_price ¥99 [on lines where <expr>]``: unit price of matching lines becomes ``price``."""

    price: int
    lines_where: Expr | None = None
    kind: ClassVar[str] = "fixed_price"


Discount = Union[PercentOff, AmountOff, EveryOff, FixedPrice]


@dataclass(frozen=True)
class Rule(Node):
    """``rule "满300减40" [when <cond>] [funded by platform] { <discount> }``.

    Thresholds are written in ``when`` against ``current_total`` (what earlier tiers left) or
    ``original_total``. ``funded_by`` (merchant | platform) overrides the tier's.
    """

    name: str
    discount: Discount
    when: Expr | None = None
    funded_by: str | None = None
    kind: ClassVar[str] = "rule"


@dataclass(frozen=True)
class Tier(Node):
    """``tier store_coupon "店铺券" [pick best|first|all] [funded by merchant] { rules }``.

    ``pick`` None means the default, "all" (every matching rule applies in order).
    """

    name: str
    title: str | None = None
    pick: str | None = None
    funded_by: str | None = None
    rules: tuple[Rule, ...] = ()
    kind: ClassVar[str] = "tier"

    @property
    def pick_mode(self) -> str:
        return self.pick or "all"


@dataclass(frozen=True)
class GiftItem(Node):
    """``add sku "GIFT-SCARF" qty 1``."""

    sku: str
    qty: int = 1
    kind: ClassVar[str] = "gift_item"


@dataclass(frozen=True)
class Gift(Node):
    """``gift "满399赠丝巾" when current_total >= ¥399 { add sku "GIFT-SCARF" qty 1 }``.

    Decided after all tiers on the final ``current_total`` (before freight)."""

    name: str
    items: tuple[GiftItem, ...]
    when: Expr | None = None
    kind: ClassVar[str] = "gift"


@dataclass(frozen=True)
class TagExclusion(Node):
    """``exclude lines tagged "秒杀" from store_coupon, platform_red_packet``."""

    tag: str
    tiers: tuple[str, ...]
    kind: ClassVar[str] = "tag_exclusion"


@dataclass(frozen=True)
class RuleConflict(Node):
    """``exclude rule "券A" with rule "券B"``: the two rules never both apply (first wins)."""

    first: str
    second: str
    kind: ClassVar[str] = "rule_conflict"


Exclusion = Union[TagExclusion, RuleConflict]


@dataclass(frozen=True)
class RegionFreight(Node):
    """``region 新疆, 西藏 base ¥25 [free over ¥299]`` inside a freight template."""

    regions: tuple[str, ...]
    base: int
    free_over: int | None = None
    kind: ClassVar[str] = "region_freight"


@dataclass(frozen=True)
class FreightTemplate(Node):
    """``freight 标准运费 { base ¥10 free over ¥99  region 新疆, 西藏 base ¥25 }``.

    Applied last, on the amount payable after discounts. A region override matches the
    receiver's province by prefix (新疆 matches 新疆维吾尔自治区)."""

    name: str
    base: int
    free_over: int | None = None
    regions: tuple[RegionFreight, ...] = ()
    kind: ClassVar[str] = "freight"


@dataclass(frozen=True)
class PriceCheck(Node):
    """``price_check tolerance ¥5 or 2%``: how far below this promotion's price an order may be
    charged (by a platform, or the own shop) before it is a price anomaly (价格异常).

    ``amount`` in fen, ``percent`` in basis points of the goods amount the promotion allows;
    with both, the larger of the two is tolerated. At least one is given."""

    amount: int | None = None
    percent: int | None = None
    kind: ClassVar[str] = "price_check"


@dataclass(frozen=True)
class PromotionDecl(Node):
    """A promotion: a priority ``order`` of tiers, the tiers, gifts, exclusions, freight and the
    tolerance of the price check (``price_check``)."""

    name: str
    title: str | None = None
    order: tuple[str, ...] = ()
    tiers: tuple[Tier, ...] = ()
    gifts: tuple[Gift, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    freight: tuple[FreightTemplate, ...] = ()
    price_check: PriceCheck | None = None
    kind: ClassVar[str] = "promotion"

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)

    @property
    def ordered_tiers(self) -> tuple[Tier, ...]:
        """Tiers in application order: ``order`` if given, else declaration order."""
        if not self.order:
            return self.tiers
        by_name = {t.name: t for t in self.tiers}
        return tuple(by_name[n] for n in self.order if n in by_name)


# --------------------------------------------------------------------------- machine


@dataclass(frozen=True)
class DataField(Node):
    """``consumer_phone: text?`` in a machine's ``data`` block (types: text, money, count,
    bool, time, duration, percent)."""

    name: str
    type: str
    optional: bool = False
    kind: ClassVar[str] = "data_field"


@dataclass(frozen=True)
class State(Node):
    """``state 待质检 owner 仓储 deadline 48h`` / ``state 已关闭 final``; deadline in seconds."""

    name: str
    owner: str | None = None
    deadline: int | None = None
    final: bool = False
    kind: ClassVar[str] = "state"


@dataclass(frozen=True)
class Notify(Node):
    """``notify 客服组长群 "售后单 {id} 质检通过"`` / ``notify 短信 to consumer_phone "..."``.

    ``message`` may hold ``{field}`` placeholders filled from the ticket or alert."""

    channel: str
    message: str
    to: Expr | None = None
    kind: ClassVar[str] = "notify"


@dataclass(frozen=True)
class CallEffect(Node):
    """``call wms.outbound(order_id)``: ``target`` is the channel/connector, ``operation`` its
    operation."""

    target: str
    operation: str
    args: tuple[Expr, ...] = ()
    kind: ClassVar[str] = "call_effect"


@dataclass(frozen=True)
class Archive(Node):
    """``archive finance_voucher``."""

    target: str
    kind: ClassVar[str] = "archive"


@dataclass(frozen=True)
class SetField(Node):
    """``set qc_result = "合格"`` as an effect."""

    field: str
    value: Expr
    kind: ClassVar[str] = "set_field"


@dataclass(frozen=True)
class OpenTicket(Node):
    """``open aftersales_reship``: start a ticket on another machine with this ticket's data."""

    machine: str
    kind: ClassVar[str] = "open_ticket"


Effect = Union[Notify, CallEffect, Archive, SetField, OpenTicket]


@dataclass(frozen=True)
class Action(Node):
    """``action 质检通过 from 待质检 to 待处理 by 仓储 requires qc_result when qc_result == "合格"
    then notify 客服组长群 "..."`` (also ``via webhook HOOK``)."""

    name: str
    sources: tuple[str, ...]
    target: str
    by: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    when: Expr | None = None
    via_webhook: str | None = None
    effects: tuple[Effect, ...] = ()
    kind: ClassVar[str] = "action"


@dataclass(frozen=True)
class DeadlineHandler(Node):
    """``on deadline 待质检 [do ACTION] notify 仓储群 "..."``."""

    state: str
    action: str | None = None
    effects: tuple[Effect, ...] = ()
    kind: ClassVar[str] = "deadline_handler"


@dataclass(frozen=True)
class StateMapping(Node):
    """``migrate 旧状态 to 新状态``: where tickets of an older version land in this one."""

    old: str
    new: str
    kind: ClassVar[str] = "state_mapping"


@dataclass(frozen=True)
class MachineDecl(Node):
    """A ticket state machine: ``data`` fields, an ``initial`` state, states with owner and
    deadline, actions between them, deadline handlers and version ``migrate`` mappings."""

    name: str
    title: str | None = None
    data: tuple[DataField, ...] = ()
    initial: str | None = None
    states: tuple[State, ...] = ()
    actions: tuple[Action, ...] = ()
    deadline_handlers: tuple[DeadlineHandler, ...] = ()
    migrations: tuple[StateMapping, ...] = ()
    kind: ClassVar[str] = "machine"

    def state(self, name: str) -> State | None:
        return next((s for s in self.states if s.name == name), None)

    def actions_from(self, state: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if state in a.sources)

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states if s.final)


# --------------------------------------------------------------------------- hooks, channels, alerts, risk


@dataclass(frozen=True)
class HookDecl(Node):
    """``hook dingtalk_approval dingtalk_approval { token env X, aes_key env Y  ticket = ... }``.

    ``type`` is the hook protocol (dingtalk_approval | signed); bindings map the payload to the
    ticket (``ticket``) and optionally the action."""

    name: str
    type: str
    settings: tuple[Setting, ...] = ()
    bindings: tuple[Binding, ...] = ()
    kind: ClassVar[str] = "hook"


@dataclass(frozen=True)
class ChannelDecl(Node):
    """``channel 仓储群 feishu { webhook env X, secret env Y }``; type: wecom | feishu | dingtalk
    | sms | wms | webhook."""

    name: str
    type: str
    settings: tuple[Setting, ...] = ()
    kind: ClassVar[str] = "channel"


@dataclass(frozen=True)
class Measure(Node):
    """``measure count(returns where reason == "面料起球") per week``; period: hour | day |
    week | month; None for a level read as it is now (``measure sum(available of stock)``)."""

    value: Expr
    period: str | None = None
    kind: ClassVar[str] = "measure"


@dataclass(frozen=True)
class AlertDecl(Node):
    """An alert: a windowed measure (or a stock level, now), a condition over ``value``, ``previous``, ``change``,
    ``change_vs_previous`` (percent), and notifications; optionally grouped (``by``), with a
    minimum volume, a cool-down and a clear message."""

    name: str
    measure: Measure
    when: Expr
    notify: tuple[Notify, ...] = ()
    by: Name | None = None  # ``per week by reason``: one figure (and one firing) per value of the field
    minimum: int | None = None  # ``minimum 10``: the window (and, for a change, the previous one) must reach it
    cooldown: int | None = None  # ``cooldown 1d`` (seconds): least time between two firings of one group
    clear: tuple[Notify, ...] = ()  # ``clear notify 群 "…"``: sent when a firing condition recovers
    kind: ClassVar[str] = "alert"


@dataclass(frozen=True)
class RiskDecl(Node):
    """``risk 疑似黄牛 { when <cond with windowed aggregates> then flag "疑似黄牛" hold }``."""

    name: str
    when: Expr
    flag: str
    hold: bool = False
    notify: tuple[Notify, ...] = ()
    kind: ClassVar[str] = "risk"


# --------------------------------------------------------------------------- tickets follow the platform


@dataclass(frozen=True)
class StatusAction(Node):
    """``status shipped do 发货 with tracking_no = tracking.number``: when the platform's
    status becomes ``status`` (an order status for ``follow … for orders``, a refund status for
    ``follow … for refunds``), fire ``actions`` in order on the ticket as the actor ``platform``
    (one not allowed from the state the ticket is in is passed over), with ``payload`` (each
    value an expression over the order, and the refund) as their payload."""

    status: str
    actions: tuple[str, ...]
    payload: tuple[Binding, ...] = ()
    kind: ClassVar[str] = "status_action"


@dataclass(frozen=True)
class FollowDecl(Node):
    """Which tickets follow the platform: ``follow 平台订单 for orders on order_lifecycle
    [when presale] { open order_id = order_id, …  status cancelled do 取消 … }``.

    ``subject`` is ``orders`` (one ticket per order, kind ``order``) or ``refunds`` (one
    after-sales ticket per platform refund id). ``machine`` is declared in the same ruleset;
    ``when`` (over the order, and ``refund.*`` for refunds) chooses the orders or refunds it
    serves; a declaration with a ``when`` that holds wins over one without. ``open_with`` gives
    the ticket's data when it opens; ``statuses`` the actions platform status changes fire."""

    name: str
    subject: str
    machine: str
    when: Expr | None = None
    open_with: tuple[Binding, ...] = ()
    statuses: tuple[StatusAction, ...] = ()
    kind: ClassVar[str] = "follow"


# --------------------------------------------------------------------------- fulfillment (ship-time promises)


@dataclass(frozen=True)
class ShipWarning(Node):
    """``warn 2h before promised_ship_at notify 仓储群 "订单 {order_id} 距承诺发货还有 {left}"``:
    one message per order not yet shipped, ``lead`` seconds before its ``due`` time
    (``promised_ship_at``, or ``presale_ship_by`` for presale orders)."""

    lead: int
    due: str
    notify: Notify
    kind: ClassVar[str] = "ship_warning"


@dataclass(frozen=True)
class FulfillmentDecl(Node):
    """``fulfillment 发货时效 { late after 2h  warn … }``: the lateness threshold of the
    fulfillment deviation (seconds; None: the default) and the warnings before ship times."""

    name: str
    late_after: int | None = None
    warnings: tuple[ShipWarning, ...] = ()
    kind: ClassVar[str] = "fulfillment"


Declaration = Union[SourceDecl, MappingDecl, CleaningDecl, PromotionDecl, MachineDecl, HookDecl,
                    ChannelDecl, AlertDecl, RiskDecl, FollowDecl, FulfillmentDecl]


@dataclass(frozen=True)
class Ruleset(Node):
    """A file's worth of declarations, in order. ``filename``/``text`` locate errors."""

    declarations: tuple[Declaration, ...] = ()
    filename: str = field(default="<input>", compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)
    kind: ClassVar[str] = "ruleset"

    @property
    def promotions(self) -> tuple[PromotionDecl, ...]:
        return tuple(d for d in self.declarations if isinstance(d, PromotionDecl))

    @property
    def machines(self) -> tuple[MachineDecl, ...]:
        return tuple(d for d in self.declarations if isinstance(d, MachineDecl))

    @property
    def follows(self) -> tuple[FollowDecl, ...]:
        return tuple(d for d in self.declarations if isinstance(d, FollowDecl))

    def find(self, kind: str, name: str) -> Declaration | None:
        return next((d for d in self.declarations if d.kind == kind and d.name == name), None)
