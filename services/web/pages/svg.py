"""Charts and state diagrams drawn on the server as inline SVG: no script, no library, no CDN.

Colours are presentation attributes (never ``style=``), so the pages work under a
``default-src 'self'`` content security policy; every picture carries a title
and a text equivalent next to it (a table) for screen readers.
"""
from __future__ import annotations

from collections import defaultdict, deque
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from markupsafe import Markup, escape

from services.web.pages import graphviz_diagrams
from services.web.pages.filters import fmt_number

PLAN_COLOUR = "#1f5fa8"
FACT_COLOUR = "#2e7d32"
SERIES_COLOURS = ("#1f5fa8", "#c75b12", "#2e7d32", "#6a3d9a", "#8c564b", "#00838f")
TEXT = "#1a1a1a"
GRID = "#c8c8c8"


def _nice_max(value: Decimal) -> Decimal:
    """A round upper bound for the axis: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        top = step.scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)


def _axis(top: Decimal, x0: float, x1: float, y0: float, height: float, ticks: int = 4) -> list[str]:
    out = []
    for i in range(ticks + 1):
        value = top * i / ticks
        y = y0 - height * i / ticks
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT}">'
                   f'{escape(fmt_number(value.normalize() if value == value.to_integral() else round(value, 2)))}'
                   f'</text>')
    return out


def _svg(width: int, height: int, title: str, body: Iterable[str], css_class: str = "chart",
         sized: bool = False) -> Markup:
    """``sized``: width and height in CSS pixels too, so the picture is never scaled down."""
    label = escape(title)
    size = f'width="{width}" height="{height}" ' if sized else ""
    return Markup(
        f'<svg class="{css_class}" {size}viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet"><title>{label}</title>'
        + "".join(body) + "</svg>")


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out = []
    for label, colour in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16:.1f}" y="{y + 1:.1f}" font-size="12" fill="{TEXT}">{escape(label)}</text>')
        x += 24 + 7.2 * len(label)
    return out


def plan_fact_chart(title: str, years: Sequence[int], plan: Mapping[int, Decimal | None],
                    fact: Mapping[int, Decimal | None], *, unit: str = "") -> Markup:
    """Grouped bars per year: plan beside fact; a missing value is drawn as a dash, never as zero."""
    width, height = 640, 240
    left, right, top_pad, bottom = 64, 12, 34, 30
    inner_w, inner_h = width - left - right, height - top_pad - bottom
    values = [v for v in [*plan.values(), *fact.values()] if v is not None]
    top = _nice_max(max([abs(Decimal(v)) for v in values], default=Decimal(0)))
    base_y = top_pad + inner_h
    body = _axis(top, left, width - right, base_y, inner_h)
    body += _legend([("План", PLAN_COLOUR), ("Факт", FACT_COLOUR)], left, 16)
    if unit:
        body.append(f'<text x="{width - right}" y="16" text-anchor="end" font-size="11" fill="{TEXT}">'
                    f'{escape(unit)}</text>')
    n = max(1, len(years))
    group = inner_w / n
    bar = min(26.0, group * 0.36)
    for i, year in enumerate(years):
        gx = left + group * i + group / 2
        for offset, series, colour, name in ((-bar - 1, plan, PLAN_COLOUR, "план"),
                                             (1, fact, FACT_COLOUR, "факт")):
            value = series.get(year)
            x = gx + offset
            if value is None:
                body.append(f'<text x="{x + bar / 2:.1f}" y="{base_y - 4:.1f}" text-anchor="middle" '
                            f'font-size="11" fill="{TEXT}">—</text>')
                continue
            h = float(inner_h * max(Decimal(value), Decimal(0)) / top)
            body.append(f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{year}, {name}: {escape(fmt_number(value))}</title></rect>')
        body.append(f'<text x="{gx:.1f}" y="{base_y + 18:.1f}" text-anchor="middle" font-size="12" '
                    f'fill="{TEXT}">{year}</text>')
    return _svg(width, height, title, body)


def stacked_chart(title: str, years: Sequence[int], series: Sequence[tuple[str, Mapping[int, Decimal]]],
                  *, unit: str = "") -> Markup:
    """Stacked bars per year, one colour per source; the year's total above each bar."""
    width, height = 640, 260
    left, right, top_pad, bottom = 70, 12, 40, 30
    inner_w, inner_h = width - left - right, height - top_pad - bottom
    totals = {y: sum((Decimal(s.get(y) or 0) for _, s in series), Decimal(0)) for y in years}
    top = _nice_max(max(totals.values(), default=Decimal(0)))
    base_y = top_pad + inner_h
    body = _axis(top, left, width - right, base_y, inner_h)
    body += _legend([(name, SERIES_COLOURS[i % len(SERIES_COLOURS)]) for i, (name, _) in enumerate(series)],
                    left, 16)
    if unit:
        body.append(f'<text x="{width - right}" y="32" text-anchor="end" font-size="11" fill="{TEXT}">'
                    f'{escape(unit)}</text>')
    group = inner_w / max(1, len(years))
    bar = min(40.0, group * 0.6)
    for i, year in enumerate(years):
        x = left + group * i + (group - bar) / 2
        y = base_y
        for j, (name, values) in enumerate(series):
            value = Decimal(values.get(year) or 0)
            h = float(inner_h * value / top) if top else 0.0
            if h > 0:
                y -= h
                body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                            f'fill="{SERIES_COLOURS[j % len(SERIES_COLOURS)]}"><title>{year}, {escape(name)}: '
                            f'{escape(fmt_number(value))}</title></rect>')
        body.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10" '
                    f'fill="{TEXT}">{escape(fmt_number(totals[year]))}</text>')
        body.append(f'<text x="{x + bar / 2:.1f}" y="{base_y + 18:.1f}" text-anchor="middle" font-size="12" '
                    f'fill="{TEXT}">{year}</text>')
    return _svg(width, height, title, body)


def ratio_bar(ratio: str | None, label: str) -> Markup:
    """A small horizontal bar for an achievement or execution ratio (capped at 100 % wide)."""
    if ratio is None:
        return Markup("")
    try:
        share = max(Decimal(0), min(Decimal(1), Decimal(str(ratio))))
    except Exception:  # noqa: BLE001
        return Markup("")
    w = float(120 * share)
    colour = FACT_COLOUR if Decimal(str(ratio)) >= Decimal("0.95") else "#c75b12"
    return _svg(124, 14, label, [
        f'<rect x="1" y="1" width="120" height="12" fill="#eeeeee" stroke="{GRID}"/>',
        f'<rect x="1" y="1" width="{w:.1f}" height="12" fill="{colour}"/>',
    ], css_class="ratio")


# --- state diagrams --------------------------------------------------------------------

FONT_PX = 16            # the page's body text: no label in a diagram is smaller
CHAR_W = 0.62           # a generous average glyph width (DejaVu Sans, Cyrillic) in em
LINE_H = 20
BOX_H, GAP_X, GAP_Y, PAD = 48, 90, 110, 24


def text_width(text: str, size: float = FONT_PX) -> float:
    return len(text) * size * CHAR_W


def _layers(workflow) -> tuple[list[list[str]], dict[str, int], list[tuple[str, str, list[str]]]]:
    """States in rows by distance from the initial one; edges with their events (self-loops too)."""
    machine = workflow.machine
    initial = next(s.value for s in machine.states if s.initial)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for state in machine.states:
        for t in state.transitions:
            for event in t.events:
                if event.id not in edges[(t.source.value, t.target.value)]:
                    edges[(t.source.value, t.target.value)].append(event.id)
    depth = {initial: 0}
    queue = deque([initial])
    while queue:
        s = queue.popleft()
        for (a, b) in edges:
            if a == s and b not in depth:
                depth[b] = depth[s] + 1
                queue.append(b)
    for s in workflow.states:
        depth.setdefault(s, max(depth.values()) + 1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for s in workflow.states:  # definition order inside a layer
        layers[depth[s]].append(s)
    return layers, depth, [(a, b, evs) for (a, b), evs in edges.items()]


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_box(cx: float, top: float, lines: Sequence[str]) -> Box:
    w = max(text_width(line) for line in lines) + 8
    return cx - w / 2, top, cx + w / 2, top + LINE_H * len(lines) + 4


def _place(lines: Sequence[str], anchors: Sequence[tuple[float, float]], taken: list[Box]) -> Box:
    """The first spot near the edge where the label touches no box and no other label.

    Tries the anchors along the edge, then steps away from them up and down; it always ends
    somewhere free, since far enough away nothing is taken.
    """
    height = LINE_H * len(lines) + 4
    for step in range(0, 60):
        for x, y in anchors:
            for dy in ((0,) if step == 0 else (-step * 12, step * 12)):
                box = _label_box(x, y - height / 2 + dy, lines)
                if not any(_overlaps(box, other) for other in taken):
                    return box
    return _label_box(anchors[0][0], max(b[3] for b in taken) + 8, lines)  # pragma: no cover


def drawn_state_diagram(workflow, current: str | None = None) -> Markup:
    """Boxes for states, arrows for transitions labelled with the Russian event names.

    The fallback when Graphviz is not installed. Drawn from the workflow definition itself,
    so the picture cannot drift from the rules; states in rows from the initial one down,
    every label at the body text's size and placed where it touches no state and no other
    label. The current state is filled amber with a thick border.
    """
    layers, _, edges = _layers(workflow)
    names = {s: workflow.state_labels.get(s, s) for s in workflow.states}
    box_w = max(text_width(n) for n in names.values()) + 2 * PAD
    per_row = max(len(layer) for layer in layers)
    row_w = per_row * box_w + (per_row - 1) * GAP_X
    pos: dict[str, Box] = {}
    for ri, layer in enumerate(layers):
        x = (row_w - (len(layer) * box_w + (len(layer) - 1) * GAP_X)) / 2
        for state in layer:
            y = ri * (BOX_H + GAP_Y)
            pos[state] = (x, y, x + box_w, y + BOX_H)
            x += box_w + GAP_X
    taken: list[Box] = [(b[0] - 4, b[1] - 4, b[2] + 4, b[3] + 4) for b in pos.values()]
    labels = workflow.event_labels
    lines_out: list[str] = []
    texts: list[tuple[Box, Sequence[str]]] = []
    pairs = {(a, b) for a, b, _ in edges}
    for a, b, events in edges:
        text_lines = [labels.get(e, e) for e in events]
        ax0, ay0, ax1, ay1 = pos[a]
        if a == b:  # a loop on the side away from the row's neighbours
            layer = next(layer for layer in layers if a in layer)
            side = -1 if layer.index(a) == 0 and len(layer) > 1 else 1
            y0, y1, x = ay0 + 12, ay1 - 12, (ax1 if side > 0 else ax0)
            lines_out.append(f'<path d="M{x:.1f},{y0:.1f} C{x + 46 * side:.1f},{y0 - 18:.1f} '
                             f'{x + 46 * side:.1f},{y1 + 18:.1f} {x:.1f},{y1:.1f}"/>')
            taken.append((min(x, x + 40 * side), y0 - 14, max(x, x + 40 * side), y1 + 14))
            w = max(text_width(t) for t in text_lines) + 8
            h = LINE_H * len(text_lines) + 4
            # Beside the loop; else just above or below the box, at that end.
            end = ax1 - w / 2 if side > 0 else ax0 + w / 2
            anchors = [(x + (48 + w / 2) * side, (ay0 + ay1) / 2), (end, ay0 - 6 - h / 2), (end, ay1 + 6 + h / 2)]
        else:
            bx0, by0, bx1, by1 = pos[b]
            acx, acy, bcx, bcy = (ax0 + ax1) / 2, (ay0 + ay1) / 2, (bx0 + bx1) / 2, (by0 + by1) / 2
            # Two states joined both ways: the two arrows side by side, not on top of each other.
            shift = 14 if (b, a) in pairs else 0
            sx = shift if (a, b) < (b, a) else -shift
            if abs(bcy - acy) < 1:  # same row: side to side
                x1, x2 = (ax1, bx0) if bcx > acx else (ax0, bx1)
                y1 = y2 = acy + sx
            else:
                down = bcy > acy
                x1, y1 = acx + sx, ay1 if down else ay0
                x2, y2 = bcx + sx, by0 if down else by1
            lines_out.append(f'<path d="M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}"/>')
            anchors = [(x1 + (x2 - x1) * t, y1 + (y2 - y1) * t) for t in (0.5, 0.35, 0.65, 0.25, 0.75)]
        box = _place(text_lines, anchors, taken)
        taken.append(box)
        texts.append((box, text_lines))
    every = list(pos.values()) + [b for b, _ in texts] + taken
    min_x, min_y = min(b[0] for b in every) - 10, min(b[1] for b in every) - 10
    width, height = max(b[2] for b in every) - min_x + 10, max(b[3] for b in every) - min_y + 10
    body = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
            f'<g transform="translate({-min_x:.1f},{-min_y:.1f})">',
            '<g fill="none" stroke="#444" stroke-width="1.5" marker-end="url(#arrow)">', *lines_out, '</g>']
    for (x0, y0, x1, _), text_lines in texts:
        cx = (x0 + x1) / 2
        for i, line in enumerate(text_lines):
            body.append(f'<text x="{cx:.1f}" y="{y0 + 2 + LINE_H * (i + 1) - 5:.1f}" text-anchor="middle" '
                        f'font-size="{FONT_PX}" fill="{TEXT}" paint-order="stroke" stroke="#ffffff" '
                        f'stroke-width="4">{escape(line)}</text>')
    finals = {s.value for s in workflow.machine.states if s.final}
    for state, (x0, y0, x1, y1) in pos.items():
        is_current = state == current
        fill = "#ffd54f" if is_current else ("#eef3fa" if state not in finals else "#e8f1e8")
        stroke = "#b34700" if is_current else "#1f5fa8"
        width_ = 3 if is_current else (2.5 if state in finals else 1.5)
        body.append(f'<g class="state{" current" if is_current else ""}"><rect x="{x0:.1f}" y="{y0:.1f}" '
                    f'width="{x1 - x0:.1f}" height="{BOX_H}" rx="8" fill="{fill}" stroke="{stroke}" '
                    f'stroke-width="{width_}"/>'
                    f'<text x="{(x0 + x1) / 2:.1f}" y="{(y0 + y1) / 2 + FONT_PX * 0.35:.1f}" text-anchor="middle" '
                    f'font-size="{FONT_PX}" font-weight="{"bold" if is_current else "normal"}" fill="{TEXT}">'
                    f'{escape(names[state])}</text></g>')
    body.append("</g>")
    return _svg(int(width + 1), int(height + 1), diagram_title(workflow, current), body, css_class="diagram drawn",
                sized=True)


def state_diagram(workflow, current: str | None = None, *, graphviz: bool = True) -> Markup:
    """The workflow's diagram: laid out by Graphviz when ``dot`` is installed, else drawn here."""
    title = diagram_title(workflow, current)
    if graphviz:
        drawn = graphviz_diagrams.render(workflow, current, title)
        if drawn is not None:
            return drawn
    return drawn_state_diagram(workflow, current)


WORKFLOW_TITLES = {"information_request": "запрос информации", "report": "отчёт о ходе реализации",
                   "amendment": "изменения в программу"}


def diagram_title(workflow, current: str | None) -> str:
    return f"Схема состояний: {WORKFLOW_TITLES.get(workflow.name, workflow.name)}" + (
        f"; текущее состояние — {workflow.state_labels.get(current, current)}" if current else "")


def transitions_table(workflow) -> list[dict]:
    """The same definition as rows (from, action, to, who): the diagram's text equivalent."""
    rows = []
    for state in workflow.machine.states:
        for t in state.transitions:
            for event in t.events:
                rows.append({"from": workflow.state_labels.get(t.source.value, t.source.value),
                             "event": workflow.event_labels.get(event.id, event.id),
                             "to": workflow.state_labels.get(t.target.value, t.target.value),
                             "who": sorted(workflow.permissions.get(event.id, ()))})
    return rows


def _integer_top(value: int, ticks: int = 4) -> tuple[int, int]:
    """An axis top of ``ticks`` whole steps (1, 2 or 5 times a power of ten), so every tick is an integer."""
    need = max(1, -(-value // ticks))
    power = 1
    while True:
        for m in (1, 2, 5):
            if m * power >= need:
                return m * power * ticks, m * power
        power *= 10


def count_chart(title: str, groups: Sequence[tuple[str, str]], series: Sequence[tuple[str, str, Mapping[str, int]]],
                *, unit: str = "") -> Markup:
    """Stacked bars of counts: ``groups`` (key, label) along the axis, ``series`` (name, colour, key -> count).

    The axis ticks are whole numbers (counts of items are never 2,5)."""
    width, height = 720, 260
    left, right, top_pad, bottom = 48, 12, 40, 30
    inner_w, inner_h = width - left - right, height - top_pad - bottom
    totals = {key: sum(int(s.get(key) or 0) for _, _, s in series) for key, _ in groups}
    top, step = _integer_top(max(totals.values(), default=0) or 1)
    base_y = top_pad + inner_h
    body = []
    for i in range(0, top // step + 1):
        value = step * i
        y = base_y - inner_h * value / top
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}" '
                    f'stroke-width="1"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT}">'
                    f'{escape(fmt_number(value))}</text>')
    body += _legend([(name, colour) for name, colour, _ in series], left, 16)
    if unit:
        body.append(f'<text x="{width - right}" y="32" text-anchor="end" font-size="11" fill="{TEXT}">'
                    f'{escape(unit)}</text>')
    group = inner_w / max(1, len(groups))
    bar = min(40.0, group * 0.6)
    for i, (key, label) in enumerate(groups):
        x = left + group * i + (group - bar) / 2
        y = base_y
        for name, colour, values in series:
            value = int(values.get(key) or 0)
            h = inner_h * value / top
            if h > 0:
                y -= h
                body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                            f'<title>{escape(label)}, {escape(name)}: {escape(fmt_number(value))}</title></rect>')
        if totals[key]:
            body.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10" '
                        f'fill="{TEXT}">{escape(fmt_number(totals[key]))}</text>')
        body.append(f'<text x="{x + bar / 2:.1f}" y="{base_y + 18:.1f}" text-anchor="middle" font-size="12" '
                    f'fill="{TEXT}">{escape(label)}</text>')
    return _svg(width, height, title, body)
