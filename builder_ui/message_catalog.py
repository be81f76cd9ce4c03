"""The Chinese text of the language's messages, for the builder: every message the checker, the
parser and the unit reader write (``dsl``), and every reason a mapping gives for refusing a
payload (``engine.orders.mapping_runtime``, ``dsl.conversions``).

The engine keeps its messages in English (the CLI, logs and the API's ``original`` text); the
builder shows these sentences instead. One table of patterns, matched whole; a name written by
the user stays as written, and the words to type in the rules (``via webhook``, ``yuan()``)
stay in quotes. ``tests/builder/test_message_catalog.py`` builds one sample of every message
the checker and the mapping runtime can write (from their source) and fails on any that would
still show English here.

Presentation only: no decision is taken on these strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["message_zh", "reason_zh", "unit_zh"]

_UNITS = {
    "money": "金额", "percent": "百分比", "duration": "时长", "count": "整数", "number": "数字",
    "text": "文本", "bool": "条件（是/否）", "time": "时间", "object": "对象", "any": "任意值",
    "error": "有误的值", "a duration": "时长", "a count": "整数", "an amount in fen": "以分计的金额",
    "a quantity": "数量", "a whole number": "整数",
}
_TOKENS = {
    "a name": "名称", "a string": "带引号的文本", "a number": "数字", "a money amount": "金额",
    "a comparison": "比较运算符", "end of file": "文件结尾",
}


def unit_zh(unit: str) -> str:
    """``money`` → 金额; ``list of text`` → 文本列表."""
    unit = unit.strip()
    if unit.startswith("list of "):
        return unit_zh(unit[len("list of "):]) + "列表"
    return _UNITS.get(unit, unit)


def _names(text: str) -> str:
    """``a, b`` → ``a、b`` (a list the checker joined with commas)."""
    return "、".join(part.strip() for part in text.split(","))


def _expected(text: str) -> str:
    return "、".join(_TOKENS.get(part.strip(), part.strip()) for part in text.split(", "))


def _token(text: str) -> str:
    return _TOKENS.get(text, text)


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rules(table: list[tuple[str, Callable[[re.Match[str]], str]]]) -> list[_Rule]:
    return [(re.compile(f"^{pattern}$", re.S), render) for pattern, render in table]


Q = r"'([^']*)'"  # a quoted name
ANY = r"(.+?)"

# The checker, the reader of units and the parser (dsl/checker.py, dsl/machine_checks.py,
# dsl/typing.py, dsl/reductions.py, dsl/units.py, dsl/parser.py, dsl/json_io.py).
_CHECKER: list[_Rule] = _rules([
    # names
    (f"unknown field {Q}", lambda g: f"未知字段 {g[1]}"),
    (f"{Q} is {ANY} and has no field {Q}", lambda g: f"{g[1]} 是{unit_zh(g[2])}，没有字段 {g[3]}"),
    (f"{Q} is not allowed: names may not start with '_'", lambda g: f"不允许使用 {g[1]}：名称不能以 _ 开头"),
    (f"unknown role {Q}", lambda g: f"未知角色 {g[1]}"),
    (f"{Q} is an outside party and cannot act by login; use 'via webhook'",
     lambda g: f"{g[1]} 是外部方，不能登录执行动作；请用 'via webhook'（回调）"),
    (f"unknown type {Q}", lambda g: f"未知类型 {g[1]}（可用 text、money、count、bool、time、duration、percent）"),
    (f"unknown hook {Q}", lambda g: f"未知回调 {g[1]}"),
    (f"unknown hook type {Q}", lambda g: f"未知回调类型 {g[1]}"),
    (f"unknown channel {Q}", lambda g: f"未知渠道 {g[1]}"),
    (f"unknown channel type {Q}", lambda g: f"未知渠道类型 {g[1]}"),
    (f"unknown platform {Q}", lambda g: f"未知平台 {g[1]}"),
    (f"unknown machine {Q}", lambda g: f"未知状态机 {g[1]}"),
    (f"unknown action {Q}", lambda g: f"未知动作 {g[1]}"),
    (f"unknown rule {Q}", lambda g: f"未知规则 {g[1]}"),
    (f"unknown tier {Q} in the order", lambda g: f"优先顺序中的优惠层 {g[1]} 未声明"),
    (f"unknown tier {Q}", lambda g: f"未知优惠层 {g[1]}"),
    (f"unknown function {Q}", lambda g: f"未知函数 {g[1]}"),
    (f"unknown data field {Q}", lambda g: f"未知数据字段 {g[1]}"),
    (f"unknown placeholder {Q}", lambda g: f"未知占位符 {g[1]}"),
    (f"unknown archive target {Q}; known: {ANY}", lambda g: f"未知归档目标 {g[1]}；可用：{_names(g[2])}"),
    (f"unknown aggregate {Q}; use count, distinct, sum, avg, min or max",
     lambda g: f"未知统计函数 {g[1]}；可用 count、distinct、sum、avg、min、max"),
    (f"unknown period {Q}; use hour, day, week or month",
     lambda g: f"未知统计周期 {g[1]}；可用 hour、day、week、month"),
    (f"cannot normalize to {Q}; use region, phone or text",
     lambda g: f"不能标准化为 {g[1]}；可用 region（地区）、phone（手机号）或 text（文本）"),
    (f"unknown {ANY} {Q}", lambda g: f"未知的名称 {g[2]}"),
    # declarations and duplicates
    (f"(\\w+) {Q} is declared twice", lambda g: f"{_declared(g[1] + ' ' + g[2])} 重复声明"),
    (f"data field {Q} is declared twice", lambda g: f"数据字段 {g[1]} 重复声明"),
    (f"{Q} is mapped twice", lambda g: f"{g[1]} 被映射了两次"),
    (f"'order' given twice in promotion {ANY}", lambda g: f"促销 {g[1]} 中优先顺序（order）写了两次"),
    (f"{Q} given twice in {ANY}", lambda g: f"{_declared(g[2])} 中 '{g[1]}' 写了两次"),
    (f"tier {Q} appears twice in the order", lambda g: f"优惠层 {g[1]} 在优先顺序中出现了两次"),
    (f"tier {Q} is missing from the order", lambda g: f"优惠层 {g[1]} 不在优先顺序（order）中"),
    (f"state {Q} is migrated twice", lambda g: f"状态 {g[1]} 被迁移了两次"),
    ("map key (.+) appears twice", lambda g: f"对照表的键 {g[1]} 出现了两次"),
    (f"{Q} is given twice", lambda g: f"{g[1]} 重复赋值（写了两次）"),
    (f"status {Q} is bound twice", lambda g: f"平台状态 {g[1]} 绑定了两次"),
    # machines
    (f"machine {Q} has no initial state", lambda g: f"状态机 {g[1]} 没有初始状态（initial）"),
    (f"initial state {Q} is not declared", lambda g: f"初始状态 {g[1]} 未声明"),
    (f"action {Q} refers to unknown state {Q}", lambda g: f"动作 {g[1]} 引用了未声明的状态 {g[2]}"),
    (f"action {Q} leaves final state {Q}", lambda g: f"动作 {g[1]} 从终态 {g[2]} 出发（终态之后不能再有动作）"),
    (f"action {Q} requires unknown data field {Q}", lambda g: f"动作 {g[1]} 需要填写的 {g[2]} 不是已声明的数据字段"),
    (f"action {Q} cannot run from state {Q}", lambda g: f"动作 {g[1]} 不能从状态 {g[2]} 执行"),
    (f"on deadline names unknown state {Q}", lambda g: f"超时处理引用了未声明的状态 {g[1]}"),
    (f"state {Q} has no deadline", lambda g: f"状态 {g[1]} 没有时限（deadline），不能设置超时处理"),
    (f"migrate target {Q} is not a state", lambda g: f"迁移目标 {g[1]} 不是已声明的状态"),
    (f"state {Q} is unreachable from initial state {Q}", lambda g: f"状态 {g[1]} 从初始状态 {g[2]} 无法到达"),
    (f"state {Q} is not final and has no action leading out",
     lambda g: f"状态 {g[1]} 不是终态，却没有任何动作离开它"),
    (f"channel {Q} is a (\\w+) channel and cannot be notified; notify goes to a {ANY} channel",
     lambda g: f"渠道 {g[1]} 是 {g[2]} 渠道，不能发通知；通知只能发到 {_names(g[3])} 渠道"),
    (f"channel {Q} is a (\\w+) channel, which offers no operations to call; call goes to a {ANY} channel",
     lambda g: f"渠道 {g[1]} 是 {g[2]} 渠道，没有可调用的操作；调用只能发到 {_names(g[3])} 渠道"),
    (f"(\\w+) channel {Q} has no operation {Q}; it offers: {ANY}",
     lambda g: f"{g[1]} 渠道 {g[2]} 没有操作 {g[3]}；可用：{_names(g[4])}"),
    ("deadline must be positive", lambda g: "时限必须大于 0"),
    # fulfillment declarations (lateness threshold, warnings before ship times)
    (f"fulfillment {ANY}: 'late after' must be positive", lambda g: f"发货时效 {g[1]}：超时阈值必须大于 0"),
    (f"fulfillment {ANY}: 'late after' is already declared by fulfillment {ANY}",
     lambda g: f"发货时效 {g[1]}：超时阈值已由发货时效 {g[2]} 声明，一个规则集只能声明一次"),
    (f"a warning counts back from {ANY}, got {Q}",
     lambda g: f"预警只能以 {_names(g[1].replace(' or ', ', '))} 为基准倒数，实际是 {g[2]}"),
    ("a warning's lead time must be positive", lambda g: "预警的提前时间必须大于 0"),
    (f"fulfillment {ANY}: the warning before {ANY} at that lead time is given twice",
     lambda g: f"发货时效 {g[1]}：{g[2]} 前同一提前时间的预警写了两次"),
    ("a ship warning goes to a group channel; 'to' is not allowed here",
     lambda g: "发货预警发到群渠道，这里不能写 'to'"),
    # follow declarations (which machine follows the platform's orders and refunds)
    (f"follow is for orders or refunds, got {Q}",
     lambda g: f"follow 只能用于 orders（订单）或 refunds（退款），实际是 {g[1]}"),
    (f"follow {ANY}: unknown machine {Q} \\(declare it in this ruleset\\)",
     lambda g: f"跟随声明 {g[1]}：未知状态机 {g[2]}（请在本规则集中声明）"),
    (f"machine {Q} has no action {Q}", lambda g: f"状态机 {g[1]} 没有动作 {g[2]}"),
    (f"machine {Q} has no data field {Q}", lambda g: f"状态机 {g[1]} 没有数据字段 {g[2]}"),
    (f"machine {Q} needs data field {Q} when a ticket opens: add `[^`]*` to open",
     lambda g: f"状态机 {g[1]} 开工单时需要数据字段 {g[2]}：请在 open 中加上 '{g[2]} = …'"),
    (f"action {Q} is fired only by webhook {ANY}; the platform cannot fire it",
     lambda g: f"动作 {g[1]} 只能由回调 {g[2]} 触发，平台状态不能触发它"),
    (f"action {Q} requires ([^:]+): add `with [^`]*`",
     lambda g: f"动作 {g[1]} 需要填写 {g[2]}：请加上 'with {g[2]} = …'"),
    # sources, mappings, cleaning
    ("pull interval must be positive", lambda g: "拉取间隔必须大于 0"),
    ("retry delays must be positive", lambda g: "重试间隔必须大于 0"),
    (f"mapping {Q} names no declared source", lambda g: f"映射 {g[1]} 没有对应的已声明来源（source）"),
    ("'each' is only allowed as the value of a list such as 'lines' or 'refunds'",
     lambda g: "'each' 只能用在列表字段的值上，例如 'lines' 或 'refunds'"),
    ("'each' is only allowed as the value of 'lines' in a mapping", lambda g: "'each' 只能用在映射中 'lines' 的值上"),
    (f"{Q} is a list: map it with 'each LIST {{ … }}'", lambda g: f"{g[1]} 是列表：请用 'each 列表 {{ … }}' 映射"),
    (f"{Q} is {ANY}, got {ANY}; write yuan\\(FIELD\\) for yuan or fen\\(FIELD\\) for fen",
     lambda g: f"{g[1]} 应为{unit_zh(g[2])}，实际是{unit_zh(g[3])}；以元计请写 'yuan(字段)'，以分计请写 'fen(字段)'"),
    (f"{Q} is {ANY}, got {ANY}; write from_shanghai\\(FIELD\\), from_unix\\(FIELD\\) or from_unix_ms\\(FIELD\\)",
     lambda g: f"{g[1]} 应为{unit_zh(g[2])}，实际是{unit_zh(g[3])}；请写 'from_shanghai(字段)'、'from_unix(字段)' "
               f"或 'from_unix_ms(字段)'"),
    (f"{Q} is {ANY}, got {ANY}", lambda g: f"{g[1]} 应为{unit_zh(g[2])}，实际是{unit_zh(g[3])}"),
    (f"{Q} is not an order status \\(one of .*\\)",
     lambda g: f"{g[1]} 不是订单状态（可用 待付款 … 已取消，或其英文代码）"),
    (f"{Q} is not a refund status \\(one of {ANY}, or {ANY}\\)",
     lambda g: f"{g[1]} 不是退款状态（可用 {_names(g[3])}，或英文代码 {_names(g[2])}）"),
    (f"{Q} is not {ANY} \\(one of {ANY}\\)", lambda g: f"{g[1]} 不是{unit_zh(g[2])}（可用 {_names(g[3])}）"),
    (f"normalize needs a text field, got {ANY}", lambda g: f"标准化只能用于文本字段，实际是{unit_zh(g[1])}"),
    # promotions
    (f"pick must be best, first or all, got {Q}",
     lambda g: f"选择方式应为 best（择优）、first（取首个）或 all（全部叠加），实际是 {g[1]}"),
    (f"funded by must be merchant or platform, got {Q}",
     lambda g: f"出资方应为 merchant（商家）或 platform（平台），实际是 {g[1]}"),
    (f"can only split by amount, got {Q}", lambda g: f"只能按金额分摊（'split by amount'），实际是 {g[1]}"),
    ("percent_off must be between 0% and 100%", lambda g: "折扣比例应在 0% 到 100% 之间"),
    ("every … off … needs positive amounts", lambda g: "每满减（every … off …）的金额必须大于 0"),
    ("the discount cannot exceed the step it is given for", lambda g: "每满减的优惠不能超过门槛金额"),
    ("cap is smaller than one step's discount", lambda g: "封顶金额小于一次满减的优惠"),
    ("gift quantity must be positive", lambda g: "赠品数量必须大于 0"),
    ("a rule cannot exclude itself", lambda g: "规则不能与自身互斥"),
    ("free-shipping threshold must be positive", lambda g: "包邮门槛必须大于 0"),
    ("region override names no region", lambda g: "地区运费没有写地区"),
    ("price_check needs a tolerance: a money amount \\(¥5\\), a percent \\(2%\\) or both",
     lambda g: "价格核对（price_check）需要写容差：金额（如 ¥5）、百分比（如 2%），或两者都写"),
    ("price_check takes one money amount and one percent, e.g. tolerance ¥5 or 2%",
     lambda g: "价格核对（price_check）最多写一个金额和一个百分比，例如 'tolerance ¥5 or 2%'"),
    ("price_check tolerance percent must be at most 100%", lambda g: "价格核对的容差百分比不能超过 100%"),
    (f"a tolerance is money like ¥5 or a percent like 2%, got {ANY}",
     lambda g: f"容差应为金额（如 ¥5）或百分比（如 2%），实际写的是 {g[1]}"),
    # alerts, risk, channels
    (f"measure must be a number, got {ANY}", lambda g: f"统计值必须是数字，实际是{unit_zh(g[1])}"),
    ("window must be positive", lambda g: "时间窗必须大于 0"),
    ("a measure needs an aggregate such as count\\(returns where …\\)",
     lambda g: "度量需要一个聚合，例如「count(returns where …)」"),
    ("an alert's window is its 'per (\\w+)'; drop 'within' here",
     lambda g: f"预警的时间窗由「per {g[1]}」决定，这里请去掉 within"),
    ("an alert groups its figures with 'per … by FIELD', not inside the aggregate",
     lambda g: "预警按「per … by 字段」分组，不能写在聚合里面"),
    ("minimum volume must be at least 1", lambda g: "最小样本量（minimum）至少为 1"),
    ("a measure of counted records needs its window: 'per hour', 'per day', 'per week' or 'per month'",
     lambda g: "统计记录数的度量需要写时间窗：'per hour'、'per day'、'per week' 或 'per month'"),
    ("stock is read as it is now and cannot be mixed with counted records \\(orders, returns …\\) in one measure; "
     "declare two alerts",
     lambda g: "库存按此刻读取，不能与按时间窗统计的记录（订单、退货……）写在同一个度量里；请分成两条预警"),
    ("stock is read as it is now, not per window: drop 'per (\\w+)'",
     lambda g: f"库存按此刻读取，没有时间窗：请去掉「per {g[1]}」"),
    ("'(\\w+)' compares with the previous window; a stock level has none",
     lambda g: f"'{g[1]}' 是与上一个时间窗的比较；库存水位没有上一个时间窗"),
    ("'minimum' is the least volume of a counted window; a stock level has none",
     lambda g: "'minimum' 是时间窗内的最小样本量；库存水位没有时间窗，请去掉"),
    ("cooldown must be longer than 0", lambda g: "冷却时间（cooldown）必须大于 0"),
    (f"a risk rule counts orders; {ANY} are measured by alerts",
     lambda g: f"风控规则只能统计订单；{_COLLECTIONS.get(g[1], g[1])}的统计请写在预警（alert）中"),
    ("'(\\w+)\\(… orders …\\)' in a risk rule needs 'by FIELD' \\(the orders that share this order's value of FIELD, "
     "e.g. by buyer_phone\\)",
     lambda g: f"风控规则中的 '{g[1]}(… orders …)' 需要写 'by 字段'"
               "（统计与本订单该字段值相同的订单，例如 'by buyer_phone'）"),
    (f"{ANY}: {Q} must be an env reference \\(`[^`]*`\\); a literal secret in a rule file is readable by every editor",
     lambda g: f"{g[1]}：'{g[2]}' 必须写成环境变量引用（'{g[2]} env 变量名'）；写在规则里的密钥所有编辑者都能看到"),
    # expressions and units
    (f"{ANY} must be {ANY}, got {ANY}", lambda g: f"{_what(g[1])}应为{unit_zh(g[2])}，实际是{unit_zh(g[3])}"),
    (f"cannot compare {ANY} with {ANY}", lambda g: f"不能比较{unit_zh(g[1])}与{unit_zh(g[2])}"),
    (f"'([^']+)' cannot order {ANY} values", lambda g: f"'{g[1]}' 不能用于比较{unit_zh(g[2])}的大小"),
    (f"'([^']+)' needs conditions, got {ANY}", lambda g: f"'{g[1]}' 两边应为条件，实际是{unit_zh(g[2])}"),
    (f"'not' needs a condition, got {ANY}", lambda g: f"'not' 后应为条件，实际是{unit_zh(g[1])}"),
    (f"'in' on text needs text, got {ANY}", lambda g: f"在文本中查找时应给文本，实际是{unit_zh(g[1])}"),
    (f"'in' needs a list or text, got {ANY}", lambda g: f"'in' 右边应为列表或文本，实际是{unit_zh(g[1])}"),
    (f"cannot look for {ANY} in a list of {ANY}", lambda g: f"不能在{unit_zh(g[2])}列表中查找{unit_zh(g[1])}"),
    (f"cannot negate {ANY}", lambda g: f"{unit_zh(g[1])}不能取负"),
    (f"list mixes {ANY} and {ANY}", lambda g: f"列表中混有{unit_zh(g[1])}和{unit_zh(g[2])}"),
    ("'map' tables are only allowed in mappings", lambda g: "'map' 对照表只能用在映射中"),
    (f"cannot (add|subtract|multiply|divide) {ANY} (and|from|by|to|with) {ANY}",
     lambda g: f"不能{_VERBS.get(g[1], g[1])}：{unit_zh(g[2])}与{unit_zh(g[4])}"),
    (f"(\\w+)\\(\\) takes {ANY} arguments?, got (\\d+)",
     lambda g: f"{g[1]}() 需要 {_count(g[2])} 个参数，实际给了 {g[3]} 个"),
    (f"(\\w+)\\(\\) needs a number, got {ANY}", lambda g: f"{g[1]}() 需要数字，实际是{unit_zh(g[2])}"),
    (f"(\\w+)\\(\\) needs a list, got {ANY}", lambda g: f"{g[1]}() 需要列表，实际是{unit_zh(g[2])}"),
    (f"(\\w+)\\(\\) needs a list of numbers, got {ANY}", lambda g: f"{g[1]}() 需要数字列表，实际是{unit_zh(g[2])}"),
    ("(\\w+)\\(\\) needs 'FIELD of (\\w+)'", lambda g: f"{g[1]}() 需要写成 '字段 of {g[2]}'"),
    (f"(\\w+)\\(\\) needs {ANY}, got {ANY}", lambda g: f"{g[1]}() 需要{unit_zh(g[2])}，实际是{unit_zh(g[3])}"),
    ("'(\\w+)\\(… (\\w+) …\\)' is only allowed in alerts and risk rules",
     lambda g: f"'{g[1]}(… {g[2]} …)' 只能用在预警和风控规则中"),
    (f"'where' needs a condition, got {ANY}", lambda g: f"'where' 后应为条件，实际是{unit_zh(g[1])}"),
    ("expression nests deeper than (\\d+) levels", lambda g: f"表达式嵌套超过 {g[1]} 层"),
    ("expression is too large \\(more than (\\d+) parts\\)", lambda g: f"表达式过大（超过 {g[1]} 个部分）"),
    (f"expected (money|duration|percent|count) like (\\S+), got {ANY}",
     lambda g: f"应为{unit_zh(g[1])}，例如 {g[2]}，实际写的是 {g[3]}"),
    ("number (\\S+) is too large \\(at most (\\d+) digits\\)", lambda g: f"数字 {g[1]} 过大（最多 {g[2]} 位）"),
    (f"{ANY} must be a whole number, got (\\S+)", lambda g: f"{unit_zh(g[1])}必须是整数，实际是 {g[2]}"),
    (f"{ANY} has at most (\\d+) decimal places, got (\\S+)",
     lambda g: f"{unit_zh(g[1])}最多 {g[2]} 位小数，实际是 {g[3]}"),
    ("plain number (\\S+) must be whole; write money as (\\S+), a percent as (\\S+)",
     lambda g: f"不带单位的数字 {g[1]} 必须是整数；金额请写 {g[2]}，百分比请写 {g[3]}"),
    # syntax
    (f"unexpected end of file; expected {ANY}", lambda g: f"文件意外结束；应为 {_expected(g[1])}"),
    (f"unexpected {ANY}; expected {ANY}", lambda g: f"此处不应出现 {_token(g[1])}；应为 {_expected(g[2])}"),
    ("unexpected '\\*' \\(there is no power operator\\)", lambda g: "此处不应出现 '*'（没有乘方运算）"),
    (f"unexpected character {Q}", lambda g: f"无法识别的字符 '{g[1]}'"),
    ("malformed number \\(units are ¥ or 元 for money, % and s/m/h/d\\)",
     lambda g: "数字写法有误（金额用 ¥ 或 元，百分比用 %，时长用 s/m/h/d）"),
    (f"unexpected {ANY}", lambda g: f"此处不应出现 {_token(g[1])}"),
    ("syntax error", lambda g: "语法错误"),
    ("input must be text", lambda g: "内容必须是文本"),
    ("JSON nests too deeply", lambda g: "JSON 嵌套过深"),
    ("JSON is not UTF-8", lambda g: "JSON 不是 UTF-8 编码"),
    ("JSON nests deeper than (\\d+) levels", lambda g: f"JSON 嵌套超过 {g[1]} 层"),
    (f"cannot read file: {ANY}", lambda g: f"无法读取文件：{g[1]}"),
    (f"file is not UTF-8 \\({ANY}\\)", lambda g: f"文件不是 UTF-8 编码（{g[1]}）"),
    (f"unknown format {ANY}; use one of: {ANY}", lambda g: f"未知格式 {g[1]}；可用：{_names(g[2])}"),
    (f"no (\\w+) named {ANY} in the text", lambda g: f"规则文本中没有名为 {g[2]} 的声明"),
    ("declaration positions unknown", lambda g: "无法定位该声明"),
    ("brackets nest deeper than (\\d+) levels", lambda g: f"括号嵌套超过 {g[1]} 层"),
    ("expression is too long \\(more than (\\d+) operators\\)", lambda g: f"表达式过长（超过 {g[1]} 个运算符）"),
    ("file is too large \\((\\S+) characters, at most (\\d+)\\)",
     lambda g: f"文件过大（{g[1]} 个字符，最多 {g[2]} 个）"),
    (f"invalid JSON: {ANY}", lambda g: f"JSON 格式有误：{g[1]}"),
    ("unknown expression node (\\w+)", lambda g: f"内部错误：无法识别的表达式（{g[1]}）"),
])

_COLLECTIONS: dict[str, str] = {"returns": "退货", "tickets": "工单", "orders": "订单", "order_lines": "订单行",
                                "shipments": "发货", "stock": "库存"}
_VERBS: dict[str, str] = {"add": "相加", "subtract": "相减", "multiply": "相乘", "divide": "相除"}
_WHAT = {"condition": "条件", "amount_off": "减免金额", "measure": "统计值", "'where'": "'where' 条件", "value": "值",
         "recipient": "接收人", "field": "字段"}


_KINDS = {"state": "状态", "action": "动作", "machine": "状态机", "promotion": "促销", "tier": "优惠层",
          "rule": "规则", "source": "来源", "mapping": "映射", "channel": "渠道", "hook": "回调", "alert": "预警",
          "risk": "风控"}

_KINDS.update(fulfillment="发货时效")


def _declared(text: str) -> str:
    """``state 待审核`` → ``状态 待审核``."""
    kind, _, name = text.partition(" ")
    return f"{_KINDS[kind]} {name}" if kind in _KINDS and name else text


def _what(text: str) -> str:
    return _WHAT.get(text, text)


def _count(text: str) -> str:
    return text.replace(" or ", " 或 ").replace(" to ", " 到 ")


# Why a mapping refused a payload (engine/orders/mapping_runtime.py, dsl/conversions.py);
# ``V`` is the payload's value as the runtime wrote it (``"abc"``, ``12.5``, ``null``, an object…).
V = r"(.+?)"
_REASONS: list[_Rule] = _rules([
    ("missing", lambda g: "缺少此值"),
    (f"{V} cannot be read by (\\w+)\\(\\)", lambda g: f"{_value(g[1])} 无法用 {g[2]}() 读取"),
    (f"{V} is not a code", lambda g: f"{_value(g[1])} 不是代码"),
    (f"{V} is not one of the codes in the map", lambda g: f"{_value(g[1])} 不在对照表（map）的代码中"),
    (f"{V} is not a list", lambda g: f"{_value(g[1])} 不是列表"),
    (f"{V} is not an object", lambda g: f"{_value(g[1])} 不是对象"),
    (f"{V} is not text", lambda g: f"{_value(g[1])} 不是文本"),
    (f"{V} is too large an amount \\(more than (¥[\\d,]+)\\)", lambda g: f"{_value(g[1])} 金额过大（超过 {g[2]}）"),
    (f"{V} is too large an amount", lambda g: f"{_value(g[1])} 金额过大"),
    (f"{V} is not an amount in fen \\(the mapping should read it with yuan\\(\\) or fen\\(\\)\\)",
     lambda g: f"{_value(g[1])} 不是以分计的金额（映射应使用 yuan() 或 fen() 读取）"),
    (f"{V} has more than 2 decimals; a yuan amount has at most 2 \\(fen\\)",
     lambda g: f"{_value(g[1])} 超过 2 位小数；以元计的金额最多 2 位小数（到分）"),
    (f"{V} is not a yuan amount", lambda g: f"{_value(g[1])} 不是以元计的金额"),
    (f"{V} is not a quantity between 0 and 1,000,000", lambda g: f"{_value(g[1])} 不是 0 到 1,000,000 之间的数量"),
    (f"{V} is not a number", lambda g: f"{_value(g[1])} 不是数字"),
    (f"{V} is not a time \\(the mapping should read it with "
     "from_shanghai\\(\\), from_unix\\(\\) or from_unix_ms\\(\\)\\)",
     lambda g: f"{_value(g[1])} 不是时间（映射应使用 from_shanghai()、from_unix() 或 from_unix_ms() 读取）"),
    (f"{V} is not a time in unix (seconds|milliseconds) between 2000 and 2100 \\((milliseconds|seconds)\\? "
     f"use (from_unix_ms|from_unix)\\)",
     lambda g: f"{_value(g[1])} 不是 2000 到 2100 年之间的 Unix {_TIME_UNITS[g[2]]}时间"
               f"（是{_TIME_UNITS[g[3]]}吗？请用 {g[4]}）"),
    (f"{V} is not a time in unix (seconds|milliseconds) between 2000 and 2100",
     lambda g: f"{_value(g[1])} 不是 2000 到 2100 年之间的 Unix {_TIME_UNITS[g[2]]}时间"),
    (f'{V} is not a time like "([^"]+)"', lambda g: f"{_value(g[1])} 不是形如「{g[2]}」的时间"),
    (f"{V} is not a time between 2000 and 2100", lambda g: f"{_value(g[1])} 不是 2000 到 2100 年之间的时间"),
    (f"{V} is not a valid date and time", lambda g: f"{_value(g[1])} 不是有效的日期时间"),
    (f"{V} is not an ISO 8601 time", lambda g: f"{_value(g[1])} 不是 ISO 8601 时间"),
    (f"{V} is not true or false", lambda g: f"{_value(g[1])} 不是 true 或 false"),
    (f"{V} is not a list of text", lambda g: f"{_value(g[1])} 不是文本列表"),
    (f"{V} is not an order status", lambda g: f"{_value(g[1])} 不是订单状态"),
    (f"{V} is not a channel", lambda g: f"{_value(g[1])} 不是渠道"),
    (f"{V} is not (a whole number|a quantity|an amount in fen|a duration|a count)",
     lambda g: f"{_value(g[1])} 不是{unit_zh(g[2])}"),
    (f"{V} is not {V}", lambda g: f"{_value(g[1])} 不是{unit_zh(g[2])}"),
    ("cannot be mapped \\((\\w+)\\)", lambda g: f"无法映射（{g[1]}）"),
])
_TIME_UNITS: dict[str, str] = {"seconds": "秒", "milliseconds": "毫秒"}
_VALUES = {"an object": "一个对象", "a list": "一个列表", "null": "空值（null）"}


def _value(text: str) -> str:
    return _VALUES.get(text, text)


_SUGGESTION = re.compile(r"[;,] did you mean '([^']*)'\?$")


def _translate(message: str, rules: list[_Rule]) -> str | None:
    for pattern, render in rules:
        match = pattern.match(message)
        if match:
            return render(match)
    return None


def message_zh(message: str) -> str:
    """A checker or parser message in Chinese, its "did you mean" kept; the message itself when
    no pattern knows it."""
    suggestion = _SUGGESTION.search(message)
    core = message[:suggestion.start()] if suggestion else message
    text = _translate(core, _CHECKER)
    if text is None:
        return message
    return f"{text}；你是不是想写 {suggestion[1]}？" if suggestion else text


def reason_zh(reason: str) -> str:
    """Why a mapping refused a payload value, in Chinese (the reason itself when unknown)."""
    text = _translate(reason, _REASONS)
    return reason if text is None else text
