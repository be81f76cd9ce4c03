"""A machine declaration drawn as an SVG state diagram, by our own code (no graphviz).

Layout: states in columns by their distance (in actions) from the initial state, stacked in
each column; each action is an arrow labelled with its name (and ``by`` roles / webhook). A
state is coloured by its owner, shows its owner and deadline (``⏱ 48h``), final states have a
double border. Pure function of the model; never reads the database.
"""

from __future__ import annotations

from collections import deque
from html import escape

from dsl import model as m
from engine.auth.roles import normalize_role, role_label

OWNER_COLOURS = {
    "cs": "#dbeafe", "cs_lead": "#c7d2fe", "warehouse": "#fde68a", "finance": "#bbf7d0",
    "ops": "#fbcfe8", "admin": "#e5e7eb", "consumer": "#fed7aa", "platform": "#ddd6fe",
}
UNOWNED = "#f3f4f6"
BOX_W, BOX_H, COL_GAP, ROW_GAP, MARGIN = 170, 64, 110, 46, 30


def format_duration(seconds: int) -> str:
    """``48h``, ``7d``, ``30m``: days from three days up, hours below (as people write them)."""
    if seconds % 86400 == 0 and seconds >= 3 * 86400:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def owner_colour(owner: str | None) -> str:
    if owner is None:
        return UNOWNED
    return OWNER_COLOURS.get(normalize_role(owner) or owner, "#e0f2fe")


def _layers(decl: m.MachineDecl) -> dict[str, int]:
    names = [s.name for s in decl.states]
    start = decl.initial or (names[0] if names else "")
    depth = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for action in decl.actions_from(current):
            if action.target not in depth:
                depth[action.target] = depth[current] + 1
                queue.append(action.target)
    deepest = max(depth.values(), default=0)
    for name in names:  # unreachable states go to a last column, still drawn
        depth.setdefault(name, deepest + 1)
    return depth


def _svg_head(decl: m.MachineDecl, width: int, height: int) -> list[str]:
    """The opening of a diagram: the ``svg`` element, the arrow marker and the machine's title."""
    return [
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'),
        ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
         'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#374151"/>'
         '</marker></defs>'),
        (f'<text x="{MARGIN}" y="{MARGIN}" font-size="16" font-weight="bold">'
         f'{escape(decl.title or decl.name)}</text>'),
    ]


def render_svg(decl: m.MachineDecl) -> str:
    depth = _layers(decl)
    columns: dict[int, list[str]] = {}
    for state in decl.states:
        columns.setdefault(depth[state.name], []).append(state.name)
    pos: dict[str, tuple[int, int]] = {}
    for col, names in columns.items():
        for row, name in enumerate(names):
            pos[name] = (MARGIN + col * (BOX_W + COL_GAP), MARGIN + 30 + row * (BOX_H + ROW_GAP))
    width = MARGIN * 2 + (max(columns, default=0) + 1) * (BOX_W + COL_GAP)
    height = MARGIN * 2 + 60 + max((len(v) for v in columns.values()), default=1) * (BOX_H + ROW_GAP)
    out = _svg_head(decl, width, height)
    for i, action in enumerate(decl.actions):
        for source in action.sources:
            if source not in pos or action.target not in pos:
                continue
            out.append(_edge(pos[source], pos[action.target], action, i))
    for state in decl.states:
        out.append(_box(state, pos[state.name], state.name == (decl.initial or decl.states[0].name)))
    out.append("</svg>")
    return "\n".join(out)


def _edge(a: tuple[int, int], b: tuple[int, int], action: m.Action, index: int) -> str:
    label = action.name
    if action.by:
        label += " · " + "/".join(action.by)
    if action.via_webhook:
        label += f" · webhook {action.via_webhook}"
    lx: float
    ly: float
    if a == b:
        x, y = a[0] + BOX_W, a[1] + BOX_H // 2
        path = f"M{x},{y - 10} C{x + 40},{y - 40} {x + 40},{y + 40} {x},{y + 10}"
        lx, ly = x + 44, y
    else:
        forward = b[0] > a[0]
        x1 = a[0] + (BOX_W if forward else 0)
        x2 = b[0] + (0 if forward else BOX_W)
        if a[0] == b[0]:
            x1 = x2 = a[0] + BOX_W // 2
        y1, y2 = a[1] + BOX_H // 2, b[1] + BOX_H // 2
        if a[0] == b[0]:
            y1, y2 = (a[1] + BOX_H, b[1]) if b[1] > a[1] else (a[1], b[1] + BOX_H)
        bend = 0 if forward else 60 + 12 * (index % 3)
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2 - bend
        path = f"M{x1},{y1} Q{mx},{my} {x2},{y2}"
        lx, ly = mx, (y1 + y2) / 2 - bend / 2 - 6
    return (f'<g class="action"><path d="{path}" fill="none" stroke="#374151" marker-end="url(#arrow)"/>'
            f'<text x="{lx:.0f}" y="{ly:.0f}" text-anchor="middle" fill="#111827">{escape(label)}</text></g>')


def _box(state: m.State, at: tuple[int, int], initial: bool) -> str:
    x, y = at
    fill = owner_colour(state.owner)
    parts = [f'<g class="state" data-state="{escape(state.name)}" data-owner="{escape(state.owner or "")}">']
    stroke = "#111827" if initial else "#6b7280"
    parts.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="10" fill="{fill}" '
                 f'stroke="{stroke}" stroke-width="{2 if initial else 1}"/>')
    if state.final:
        parts.append(f'<rect x="{x + 4}" y="{y + 4}" width="{BOX_W - 8}" height="{BOX_H - 8}" rx="8" '
                     f'fill="none" stroke="#6b7280"/>')
    parts.append(f'<text x="{x + BOX_W // 2}" y="{y + 22}" text-anchor="middle" font-size="14" '
                 f'font-weight="bold">{escape(state.name)}</text>')
    sub = []
    if state.owner:
        code = normalize_role(state.owner)
        sub.append(role_label(code) if code else state.owner)
    if state.deadline:
        sub.append(f"⏱ {format_duration(state.deadline)}")
    if state.final:
        sub.append("终态")
    parts.append(f'<text x="{x + BOX_W // 2}" y="{y + 44}" text-anchor="middle" fill="#374151">'
                 f'{escape(" · ".join(sub))}</text>')
    parts.append("</g>")
    return "".join(parts)


LANE_LABEL_W = 90
LANE_ORDER = ("cs", "cs_lead", "warehouse", "finance", "ops", "admin", "consumer", "platform")


def _lane_of(state: m.State) -> str:
    if state.owner is None:
        return ""
    return normalize_role(state.owner) or state.owner


def render_swimlanes(decl: m.MachineDecl, current: str | None = None,
                     average_seconds: dict[str, int] | None = None, counts: dict[str, int] | None = None) -> str:
    """The machine as swimlanes by owner (客服, 仓储, 财务, 消费者, 平台 …): one horizontal lane
    per owner holding that owner's states, columns by distance from the initial state, so a
    team sees which steps it holds. ``current`` (a sandbox ticket's state) is outlined;
    ``average_seconds`` (from stored tickets) is written under each state that has one;
    ``counts`` (open tickets per state, for the kanban) inside each state's box."""
    depth = _layers(decl)
    present = {_lane_of(s) for s in decl.states}
    lanes = [lane for lane in LANE_ORDER if lane in present]
    lanes += sorted(lane for lane in present if lane not in LANE_ORDER and lane)
    if "" in present:
        lanes.append("")
    cells: dict[tuple[str, int], list[str]] = {}
    for state in decl.states:
        cells.setdefault((_lane_of(state), depth[state.name]), []).append(state.name)
    lane_rows = {lane: max((len(v) for (ln, _), v in cells.items() if ln == lane), default=1) for lane in lanes}
    top = MARGIN + 30
    lane_top: dict[str, int] = {}
    for lane in lanes:
        lane_top[lane] = top
        top += lane_rows[lane] * (BOX_H + ROW_GAP)
    pos: dict[str, tuple[int, int]] = {}
    for (lane, col), names in cells.items():
        for row, name in enumerate(names):
            pos[name] = (MARGIN + LANE_LABEL_W + col * (BOX_W + COL_GAP),
                         lane_top[lane] + ROW_GAP // 2 + row * (BOX_H + ROW_GAP))
    width = MARGIN * 2 + LANE_LABEL_W + (max(depth.values(), default=0) + 1) * (BOX_W + COL_GAP)
    height = top + MARGIN
    out = _svg_head(decl, width, height)
    for i, lane in enumerate(lanes):
        y, h = lane_top[lane], lane_rows[lane] * (BOX_H + ROW_GAP)
        fill = "#fafafa" if i % 2 == 0 else "#ffffff"
        out.append(f'<g class="lane" data-lane="{escape(lane)}"><rect x="{MARGIN}" y="{y}" '
                   f'width="{width - 2 * MARGIN}" height="{h}" fill="{fill}" stroke="#d9d9d9"/>'
                   f'<text x="{MARGIN + 10}" y="{y + h // 2 + 5}" font-size="14" font-weight="bold" fill="#1f1f1f">'
                   f'{escape(role_label(lane) if lane else "无负责人")}</text></g>')
    for i, action in enumerate(decl.actions):
        for source in action.sources:
            if source in pos and action.target in pos:
                out.append(_edge(pos[source], pos[action.target], action, i))
    initial = decl.initial or (decl.states[0].name if decl.states else "")
    for state in decl.states:
        out.append(_box(state, pos[state.name], state.name == initial))
        average = (average_seconds or {}).get(state.name)
        if average is not None:
            x, y = pos[state.name]
            out.append(f'<text class="average" x="{x + BOX_W // 2}" y="{y + BOX_H + 16}" text-anchor="middle" '
                       f'fill="#434343">平均停留 {format_duration(max(average, 1))}</text>')
        if counts is not None and not state.final:
            x, y = pos[state.name]
            out.append(f'<text class="count" x="{x + BOX_W // 2}" y="{y + BOX_H - 6}" text-anchor="middle" '
                       f'fill="#0b3b8c" font-weight="bold">在办 {counts.get(state.name, 0)} 单</text>')
    if current in pos:
        x, y = pos[current]
        out.append(f'<rect class="current" x="{x - 4}" y="{y - 4}" width="{BOX_W + 8}" height="{BOX_H + 8}" rx="12" '
                   f'fill="none" stroke="#1668dc" stroke-width="3"/>')
    out.append("</svg>")
    return "\n".join(out)
