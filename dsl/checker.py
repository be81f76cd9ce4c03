"""Static checks of a ruleset: every declaration kind (source, mapping, cleaning, promotion,
machine, hook, channel, alert, risk), names declared once.

This module owns :func:`check`, which returns every :class:`dsl.errors.Diagnostic` it finds
(never stopping at the first). Expression typing is :mod:`dsl.typing`'s; the machine checks are
:mod:`dsl.machine_checks`'. It never evaluates user expressions.
"""

from __future__ import annotations

from . import model as m
from . import order_model as om
from .errors import Diagnostic
from .machine_checks import MachineChecks
from .typing import (
    ALERT_SCOPE,
    COLLECTION_FIELDS,
    FOLLOW_SCOPE,
    HOOK_SCOPE,
    LINE_SCOPE,
    MAX_EXPR_DEPTH,
    MAX_EXPR_NODES,
    MEASURE_SCOPE,
    ORDER_SCOPE,
    PROMOTION_SCOPE,
    RAW_SCOPE,
    REFUND_SCOPE,
    RISK_SCOPE,
    Scope,
    check_expression,
    expression_children,
    suggest,
    unit_name,
)

__all__ = ["check", "check_expression", "expression_children", "Scope", "MAX_EXPR_DEPTH", "MAX_EXPR_NODES"]


class _Checker(MachineChecks):
    # ------------------------------------------------------------------ declarations
    def run(self) -> list[Diagnostic]:
        seen: dict[tuple[str, str], m.Node] = {}
        for d in self.ruleset.declarations:
            key = (d.kind, d.name)
            if key in seen and d.kind != "mapping":
                self.error(d, f"{d.kind} '{d.name}' is declared twice", code="duplicate")
            seen[key] = d
            getattr(self, f"_check_{d.kind}")(d)
        return sorted(self.diagnostics, key=lambda x: (x.line, x.col, x.pointer))

    def _check_source(self, d: m.SourceDecl) -> None:
        if d.platform is not None and d.platform not in om.PLATFORMS:
            self.error(d.loc("platform"),
                       f"unknown platform '{d.platform}'{suggest(d.platform, om.PLATFORMS)}",
                       code="unknown-name")
        for p in d.pulls:
            if p.every <= 0:
                self.error(p, "pull interval must be positive", code="window")
        if any(r <= 0 for r in d.retry):
            self.error(d, "retry delays must be positive", code="window")

    def _check_mapping(self, d: m.MappingDecl) -> None:
        channel = next((f.value for f in d.fields if f.target == ("channel",)), None)
        if isinstance(channel, m.Literal) and channel.value not in om.PLATFORMS:
            self.error(channel, f"unknown channel '{channel.value}'"
                                f"{suggest(str(channel.value), om.PLATFORMS)}", code="unknown-name")
        # a mapping belongs to the source it is named after, or (an import mapping such as
        # taobao_export) names its channel itself
        if d.name not in self.sources and d.name not in om.PLATFORMS and not (
                isinstance(channel, m.Literal) and channel.value in om.PLATFORMS):
            self.error(d, f"mapping '{d.name}' names no declared source"
                          f"{suggest(d.name, list(self.sources))}", code="unknown-name")
        self._mapping_fields(d.fields, om.ORDER_FIELDS, "")

    def _mapping_fields(self, fields: tuple[m.FieldMapping, ...], tree: om.FieldTree,
                        inside: str) -> None:
        """Targets of one mapping block (the order, or one ``each`` element) against ``tree``,
        and each value against its target's type."""
        targets: set[tuple[str, ...]] = set()
        for f in fields:
            if f.target in targets:
                self.error(f, f"'{'.'.join(f.target)}' is mapped twice", code="duplicate")
            targets.add(f.target)
            target_type = self._mapping_target(f, tree)
            element = self._element_tree(tree, f.target) if target_type == "list:object" else None
            if isinstance(f.value, m.Each):
                if element is None:
                    if target_type != "error":
                        self.error(f.value, "'each' is only allowed as the value of a list such as "
                                            "'lines' or 'refunds'", code="context")
                    continue
                if f.value.where is not None:
                    self.expression(f.value.where, RAW_SCOPE, "bool", what="'where'")
                aliases = om.LINE_MAPPING_ALIASES if f.target == ("lines",) else {}
                inner_tree = dict(element)
                inner_tree.update({k: element[v] for k, v in aliases.items() if v in element})
                self._mapping_fields(f.value.fields, inner_tree, f"{inside}{'.'.join(f.target)}.")
                continue
            if element is not None:
                self.error(f.value, f"'{inside}{'.'.join(f.target)}' is a list: map it with "
                                    f"'each LIST {{ … }}'", code="context")
            value_type = self.expression(f.value, RAW_SCOPE)
            if target_type == "error" or value_type in ("any", "error", "zero"):
                continue
            if not self._compatible(value_type, target_type) and not (
                    target_type == "text" and value_type in ("count", "number")):
                hint = _CONVERSION_HINTS.get(target_type, "")
                self.error(f.value, f"'{inside}{'.'.join(f.target)}' is {unit_name(target_type)}, "
                                    f"got {unit_name(value_type)}{hint}", code="type")
            if f.target == ("status",) and not inside:
                self._status_values(f.value)
            elif f.target == ("status",) and inside == "refunds.":
                self._refund_status_values(f.value)

    @staticmethod
    def _literals(value: m.Expr) -> list[m.Literal]:
        """The text a value may write: a literal, the results of a ``map`` table, the values of a
        ``coalesce(…)`` of those."""
        literals: list[m.Literal] = []
        if isinstance(value, m.Literal):
            literals.append(value)
        elif isinstance(value, m.MapTable):
            literals += [e.value for e in value.entries]
            if value.default is not None:
                literals.append(value.default)
        elif isinstance(value, m.Call) and value.func == "coalesce":
            for arg in value.args:
                literals += _Checker._literals(arg)
        return literals

    def _refund_status_values(self, value: m.Expr) -> None:
        for lit in self._literals(value):
            if lit.unit == m.TEXT and lit.value != "" and om.canonical_refund_status(str(lit.value)) is None:
                choices = [*om.REFUND_STATUSES, *om.REFUND_STATUS_LABELS.values()]
                self.error(lit, f"'{lit.value}' is not a refund status (one of {', '.join(om.REFUND_STATUSES)}, "
                                f"or {'、'.join(om.REFUND_STATUS_LABELS.values())}){suggest(str(lit.value), choices)}",
                           code="enum")

    def _status_values(self, value: m.Expr) -> None:
        literals = self._literals(value) if not isinstance(value, m.Call) else []
        for lit in literals:
            # "" leaves the decision to the next value of a coalesce(…)
            if lit.unit == m.TEXT and lit.value != "" and om.canonical_status(str(lit.value)) is None:
                choices = [*om.ORDER_STATUSES, *om.STATUS_LABELS.values()]
                self.error(lit, f"'{lit.value}' is not an order status (one of "
                                f"{', '.join(om.ORDER_STATUSES)}, or 待付款 … 已取消)"
                                f"{suggest(str(lit.value), choices)}", code="enum")

    @staticmethod
    def _element_tree(tree: om.FieldTree, path: tuple[str, ...]) -> om.FieldTree | None:
        node: om.FieldTree | str = tree
        for seg in path:
            if not isinstance(node, dict) or seg not in node:
                return None
            node = node[seg]
        if isinstance(node, dict) and isinstance(node.get("[]"), dict):
            return node["[]"]  # type: ignore[return-value]
        return None

    def _mapping_target(self, f: m.FieldMapping, tree: om.FieldTree) -> str:
        return self.resolve(m.Name(f.target, line=f.line, col=f.col, pointer=f.pointer),
                            Scope((tree,), what="order field"))

    def _check_cleaning(self, d: m.CleaningDecl) -> None:
        for s in d.steps:
            if isinstance(s, m.NormalizeStep):
                t = self.resolve(m.Name(s.target, line=s.line, col=s.col, pointer=s.pointer),
                                 ORDER_SCOPE)
                if s.to not in ("region", "phone", "text"):
                    self.error(s, f"cannot normalize to '{s.to}'; use region, phone or text"
                                  f"{suggest(s.to, ('region', 'phone', 'text'))}",
                               code="unknown-name")
                elif t not in ("text", "error"):
                    self.error(s, f"normalize needs a text field, got {unit_name(t)}",
                               code="type")
            elif isinstance(s, m.DropStep):
                self.expression(s.when, ORDER_SCOPE, "bool")
            else:
                t = self.resolve(m.Name(s.target, line=s.line, col=s.col, pointer=s.pointer),
                                 ORDER_SCOPE)
                self.expression(s.value, ORDER_SCOPE, None if t == "error" else t,
                                what="value")
                self.expression(s.when, ORDER_SCOPE, "bool")

    def _check_promotion(self, p: m.PromotionDecl) -> None:
        tier_names = [t.name for t in p.tiers]
        seen_tiers: set[str] = set()
        for t in p.tiers:
            if t.name in seen_tiers:
                self.error(t, f"tier '{t.name}' is declared twice", code="duplicate")
            seen_tiers.add(t.name)
        in_order: set[str] = set()
        for i, name in enumerate(p.order):
            if name in in_order:
                self.error(p.loc("order", i), f"tier '{name}' appears twice in the order",
                           code="duplicate")
            elif name not in seen_tiers:
                self.error(p.loc("order", i), f"unknown tier '{name}' in the order"
                              f"{suggest(name, tier_names)}", code="unknown-name")
            in_order.add(name)
        if p.order:
            for t in p.tiers:
                if t.name not in in_order:
                    self.error(t, f"tier '{t.name}' is missing from the order", code="order")
        rule_names: set[str] = set()
        for t in p.tiers:
            if t.pick is not None and t.pick not in ("best", "first", "all"):
                self.error(t.loc("pick"), f"pick must be best, first or all, got '{t.pick}'"
                              f"{suggest(t.pick, ('best', 'first', 'all'))}", code="enum")
            self._funded(t, t.funded_by)
            for r in t.rules:
                if r.name in rule_names:
                    self.error(r, f"rule '{r.name}' is declared twice", code="duplicate")
                rule_names.add(r.name)
                self._funded(r, r.funded_by)
                self.expression(r.when, PROMOTION_SCOPE, "bool")
                self._discount(r.discount)
        for g in p.gifts:
            self.expression(g.when, PROMOTION_SCOPE, "bool")
            for item in g.items:
                if item.qty <= 0:
                    self.error(item, "gift quantity must be positive", code="value")
        for x in p.exclusions:
            if isinstance(x, m.TagExclusion):
                for i, name in enumerate(x.tiers):
                    if name not in seen_tiers:
                        self.error(x.loc("tiers", i), f"unknown tier '{name}'{suggest(name, tier_names)}",
                                   code="unknown-name")
            else:
                for name in (x.first, x.second):
                    if name not in rule_names:
                        self.error(x, f"unknown rule '{name}'{suggest(name, rule_names)}",
                                   code="unknown-name")
                if x.first == x.second:
                    self.error(x, "a rule cannot exclude itself", code="value")
        for f in p.freight:
            if f.free_over is not None and f.free_over <= 0:
                self.error(f, "free-shipping threshold must be positive", code="value")
            for override in f.regions:
                if not override.regions:
                    self.error(override, "region override names no region", code="value")
        self._price_check(p.price_check)

    def _price_check(self, c: m.PriceCheck | None) -> None:
        """The price check's tolerance: a money amount and/or a percent of at most 100%."""
        if c is None:
            return
        if c.amount is None and c.percent is None:
            self.error(c, "price_check needs a tolerance: a money amount (¥5), a percent (2%) or both",
                       code="value")
        if c.percent is not None and c.percent > 10000:
            self.error(c, "price_check tolerance percent must be at most 100%", code="value")

    def _funded(self, node: m.Node, funded_by: str | None) -> None:
        if funded_by is not None and funded_by not in ("merchant", "platform"):
            self.error(node, f"funded by must be merchant or platform, got '{funded_by}'",
                       code="enum")

    def _discount(self, d: m.Discount) -> None:
        where = getattr(d, "lines_where", None)
        self.expression(where, LINE_SCOPE, "bool")
        split = getattr(d, "split_by", None)
        if split is not None and split != "amount":
            self.error(d, f"can only split by amount, got '{split}'", code="enum")
        if isinstance(d, m.PercentOff):
            if not 0 < d.percent <= 10000:
                self.error(d, "percent_off must be between 0% and 100%", code="value")
        elif isinstance(d, m.AmountOff):
            self.expression(d.amount, PROMOTION_SCOPE, "money", what="amount_off")
        elif isinstance(d, m.EveryOff):
            if d.every <= 0 or d.off <= 0:
                self.error(d, "every … off … needs positive amounts", code="value")
            elif d.off > d.every:
                self.error(d, "the discount cannot exceed the step it is given for",
                           code="value")
            if d.cap is not None and d.cap < d.off:
                self.error(d, "cap is smaller than one step's discount", code="value")

    def _check_hook(self, d: m.HookDecl) -> None:
        if d.type not in om.HOOK_TYPES:
            self.error(d.loc("type"), f"unknown hook type '{d.type}'"
                                      f"{suggest(d.type, om.HOOK_TYPES)}", code="unknown-name")
        for b in d.bindings:
            self.expression(b.value, HOOK_SCOPE)
        self._settings_from_env(d.settings, f"hook {d.name}")

    def _check_channel(self, d: m.ChannelDecl) -> None:
        if d.type not in om.CHANNEL_TYPES:
            self.error(d.loc("type"),
                       f"unknown channel type '{d.type}'{suggest(d.type, om.CHANNEL_TYPES)}",
                       code="unknown-name")
        self._settings_from_env(d.settings, f"channel {d.name}")

    def _settings_from_env(self, settings: tuple[m.Setting, ...], owner: str) -> None:
        """Settings of hooks and channels are keys, tokens and addresses with keys in them:
        secrets live in the environment, never in a rule file (which every editor reads)."""
        for setting in settings:
            if not isinstance(setting.value, m.EnvRef):
                self.error(setting.value, f"{owner}: '{setting.key}' must be an env reference "
                                          f"(`{setting.key} env VARIABLE`); a literal secret in a rule "
                                          f"file is readable by every editor", code="literal-secret")

    def _check_alert(self, d: m.AlertDecl) -> None:
        if d.measure.period is not None and d.measure.period not in ("hour", "day", "week", "month"):
            hint = suggest(d.measure.period, ("hour", "day", "week", "month")).replace(";", ",")
            self.error(d.measure, f"unknown period '{d.measure.period}'; use hour, day, week or month{hint}",
                       code="enum")
        t = self.expression(d.measure.value, MEASURE_SCOPE)
        if t not in om.NUMERIC and t not in ("zero", "any", "error"):
            self.error(d.measure.value, f"measure must be a number, got {unit_name(t)}",
                       code="type")
        self.expression(d.when, ALERT_SCOPE, "bool")
        for n in (*d.notify, *d.clear):
            self._channel_ref(n.loc("channel"), n.channel)
            self._placeholders(n, n.message, [*om.ALERT_CONTEXT, "name", *(["group"] if d.by else [])])
        self._check_alert_extras(d)

    def _check_alert_extras(self, d: m.AlertDecl) -> None:
        """An alert's aggregates are windowed by ``per`` and grouped by ``per … by FIELD``; its
        minimum volume and cool-down are positive."""
        found: list[m.Aggregate] = []
        stack: list[m.Expr] = [d.measure.value]
        while stack:
            node = stack.pop()
            if isinstance(node, m.Aggregate):
                found.append(node)
                continue
            stack.extend(expression_children(node))
        if not found:
            self.error(d.measure.value, "a measure needs an aggregate such as count(returns where …)",
                       code="measure")
        for agg in found:
            if agg.within is not None:
                self.error(agg, f"an alert's window is its 'per {d.measure.period}'; drop 'within' here",
                           code="window")
            if agg.by is not None:
                self.error(agg.by, "an alert groups its figures with 'per … by FIELD', not inside the aggregate",
                           code="measure")
            if d.by is not None:
                self.resolve(d.by, Scope((COLLECTION_FIELDS[agg.collection],), what=f"{agg.collection} field"))
        levels = [agg for agg in found if agg.collection == "stock"]
        if levels:
            self._check_level_alert(d, levels, len(found) - len(levels))
        elif found and d.measure.period is None:
            self.error(d.measure, "a measure of counted records needs its window: 'per hour', 'per day', "
                                  "'per week' or 'per month'", code="window")
        if d.minimum is not None and d.minimum < 1:
            self.error(d, "minimum volume must be at least 1", code="minimum")
        if d.cooldown is not None and d.cooldown <= 0:
            self.error(d, "cooldown must be longer than 0", code="cooldown")

    def _check_level_alert(self, d: m.AlertDecl, levels: list[m.Aggregate], counted: int) -> None:
        """A measure of ``stock`` reads each SKU's stock as it is now: no window, nothing before
        it to compare with, no minimum volume, and no counted records mixed in."""
        if counted:
            self.error(levels[0], "stock is read as it is now and cannot be mixed with counted records "
                                  "(orders, returns …) in one measure; declare two alerts", code="measure")
        if d.measure.period is not None:
            self.error(d.measure, f"stock is read as it is now, not per window: drop 'per {d.measure.period}'",
                       code="window")
        stack: list[m.Expr] = [d.when]
        while stack:
            node = stack.pop()
            if isinstance(node, m.Name) and node.path[0] in ("previous", "change", "change_vs_previous"):
                self.error(node, f"'{node.path[0]}' compares with the previous window; a stock level has none",
                           code="context")
            stack.extend(expression_children(node))
        if d.minimum is not None:
            self.error(d, "'minimum' is the least volume of a counted window; a stock level has none",
                       code="minimum")

    def _check_risk(self, d: m.RiskDecl) -> None:
        self.expression(d.when, RISK_SCOPE, "bool")
        # a risk rule decides about one order at intake: it reads the orders that share a value
        # with it (``by FIELD``); returns and tickets, and whole-shop rates, are alerts' measures
        stack: list[m.Expr] = [d.when]
        while stack:
            node = stack.pop()
            if isinstance(node, m.Aggregate):
                if node.collection != "orders":
                    self.error(node, f"a risk rule counts orders; {node.collection} are measured by alerts",
                               code="context")
                elif node.by is None:
                    self.error(node, f"'{node.func}(… orders …)' in a risk rule needs 'by FIELD' (the orders "
                                     "that share this order's value of FIELD, e.g. by buyer_phone)", code="context")
                continue
            stack.extend(expression_children(node))
        for n in d.notify:
            self._channel_ref(n.loc("channel"), n.channel)
            self._placeholders(n, n.message, [*om.ORDER_FIELDS, "flag", "name"])

    def _check_follow(self, d: m.FollowDecl) -> None:  # noqa: C901 - one check per clause
        """Which tickets follow the platform: the machine (declared here), the statuses (of the
        subject), the actions (of the machine, not webhook-only, their required fields given),
        and the ticket data each clause writes (the machine's fields, of their types)."""
        if d.subject not in om.FOLLOW_SUBJECTS:
            self.error(d.loc("subject"), f"follow is for orders or refunds, got '{d.subject}'"
                                         f"{suggest(d.subject, om.FOLLOW_SUBJECTS)}", code="enum")
            return
        scope = REFUND_SCOPE if d.subject == "refunds" else FOLLOW_SCOPE
        self.expression(d.when, scope, "bool")
        mc = self.machines.get(d.machine)
        if mc is None:
            self.error(d.loc("machine"), f"follow {d.name}: unknown machine '{d.machine}' (declare it in "
                                         f"this ruleset){suggest(d.machine, list(self.machines))}",
                       code="unknown-machine")
        fields = {f.name: f for f in mc.data} if mc else {}
        self._follow_data(d.open_with, scope, mc, fields)
        if mc is not None:
            given = {b.name for b in d.open_with}
            for f in mc.data:
                if not f.optional and f.name not in given:
                    self.error(d.loc("kw:open") if given else d,
                               f"machine '{mc.name}' needs data field '{f.name}' when a ticket opens: add "
                               f"`{f.name} = …` to open", code="missing-data")
        actions = {a.name: a for a in mc.actions} if mc else {}
        statuses = (om.REFUND_STATUSES, [*om.REFUND_STATUS_LABELS.values()]) if d.subject == "refunds" else \
            (om.ORDER_STATUSES, [*om.STATUS_LABELS.values()])
        canonical = om.canonical_refund_status if d.subject == "refunds" else om.canonical_status
        seen: set[str] = set()
        for sa in d.statuses:
            status = canonical(sa.status)
            if status is None:
                what = "a refund status" if d.subject == "refunds" else "an order status"
                self.error(sa.loc("status"), f"'{sa.status}' is not {what} (one of {', '.join(statuses[0])})"
                                             f"{suggest(sa.status, [*statuses[0], *statuses[1]])}",
                           code="unknown-status")
            elif status in seen:
                self.error(sa.loc("status"), f"status '{sa.status}' is bound twice", code="duplicate")
            else:
                seen.add(status)
            self._follow_data(sa.payload, scope, mc, fields)
            if mc is None:
                continue
            for i, name in enumerate(sa.actions):
                self._follow_action(sa, i, name, mc, actions)

    def _follow_action(self, sa: m.StatusAction, i: int, name: str, mc: m.MachineDecl,
                       actions: dict[str, m.Action]) -> None:
        action = actions.get(name)
        if action is None:
            self.error(sa.loc("actions", i), f"machine '{mc.name}' has no action '{name}'"
                                             f"{suggest(name, list(actions))}", code="unknown-action")
            return
        if action.via_webhook is not None:
            self.error(sa.loc("actions", i), f"action '{name}' is fired only by webhook {action.via_webhook}; "
                                             "the platform cannot fire it", code="context")
        given = {b.name for b in sa.payload}
        for need in action.requires:
            if need not in given:
                self.error(sa.loc("actions", i), f"action '{name}' requires {need}: add `with {need} = …`",
                           code="missing-data")

    def _follow_data(self, bindings: tuple[m.Binding, ...], scope: Scope, mc: m.MachineDecl | None,
                     fields: dict[str, m.DataField]) -> None:
        names: set[str] = set()
        for b in bindings:
            if b.name in names:
                self.error(b, f"'{b.name}' is given twice", code="duplicate")
            names.add(b.name)
            decl = fields.get(b.name)
            if mc is not None and decl is None:
                self.error(b, f"machine '{mc.name}' has no data field '{b.name}'"
                              f"{suggest(b.name, list(fields))}", code="unknown-name")
            want = decl.type if decl is not None and decl.type in ("text", "money", "count", "bool") else None
            value_type = self.expression(b.value, scope)
            text_ok = want == "text" and value_type in ("count", "number")
            if want is not None and value_type not in ("any", "error", "zero") and \
                    not self._compatible(value_type, want) and not text_ok:
                self.error(b.value, f"'{b.name}' is {unit_name(want)}, got {unit_name(value_type)}", code="type")

    def _check_fulfillment(self, d: m.FulfillmentDecl) -> None:
        """The lateness threshold (positive, one per ruleset) and each warning: before a ship time
        the order has, a positive lead, once per (time, lead), to a declared group channel."""
        if d.late_after is not None:
            if d.late_after <= 0:
                self.error(d.loc("kw:late_after"), f"fulfillment {d.name}: 'late after' must be positive",
                           code="window")
            first = next(x for x in self.ruleset.declarations
                         if isinstance(x, m.FulfillmentDecl) and x.late_after is not None)
            if first is not d:
                self.error(d.loc("kw:late_after"),
                           f"fulfillment {d.name}: 'late after' is already declared by fulfillment {first.name}",
                           code="duplicate")
        seen: set[tuple[str, int]] = set()
        for w in d.warnings:
            if w.due not in om.SHIP_WARNING_DUES:
                self.error(w.loc("due"), f"a warning counts back from {' or '.join(om.SHIP_WARNING_DUES)}, "
                                         f"got '{w.due}'{suggest(w.due, om.SHIP_WARNING_DUES)}", code="enum")
            if w.lead <= 0:
                self.error(w, "a warning's lead time must be positive", code="window")
            if (w.due, w.lead) in seen:
                self.error(w, f"fulfillment {d.name}: the warning before {w.due} at that lead time is given twice",
                           code="duplicate")
            seen.add((w.due, w.lead))
            n = w.notify
            if n.to is not None:
                self.error(n, "a ship warning goes to a group channel; 'to' is not allowed here", code="context")
            self._channel_ref(n.loc("channel"), n.channel)
            self._placeholders(n, n.message, [*om.ORDER_FIELDS, *om.SHIP_WARNING_CONTEXT])


_CONVERSION_HINTS = {
    "money": "; write yuan(FIELD) for yuan or fen(FIELD) for fen",
    "time": "; write from_shanghai(FIELD), from_unix(FIELD) or from_unix_ms(FIELD)",
}


def check(ruleset: m.Ruleset) -> list[Diagnostic]:
    """Every problem in ``ruleset``, sorted by position; empty when it is clean."""
    return _Checker(ruleset).run()
