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


def _svg(width: int, height: int, title: str, body: Iterable[str], css_class: str = "chart") -> Markup:
    label = escape(title)
    return Markup(
        f'<svg class="{css_class}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
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

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 170, 44, 140, 56, 70


def _layers(workflow) -> tuple[list[list[str]], dict[str, int], list[tuple[str, str, list[str]]]]:
    """States in columns by distance from the initial one; edges with their events (self-loops too)."""
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
    columns: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for s in workflow.states:  # definition order inside a column
        columns[depth[s]].append(s)
    return columns, depth, [(a, b, evs) for (a, b), evs in edges.items()]


def _wrapped(x: float, y: float, text: str, width: int = 24, **attrs) -> str:
    """Text broken into lines of about ``width`` characters (SVG has no wrapping of its own)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    extra = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else 11}">{escape(t)}</tspan>' for i, t in enumerate(lines))
    return f'<text x="{x:.1f}" y="{y - 11 * (len(lines) - 1):.1f}" {extra}>{spans}</text>'


def state_diagram(workflow, current: str | None = None) -> Markup:
    """Boxes for states, arrows for transitions labelled with the Russian event names.

    Drawn from the workflow definition itself, so the picture cannot drift from
    the rules; the current state is filled amber with a thick border.
    """
    columns, _, edges = _layers(workflow)
    rows = max(len(c) for c in columns)
    width = len(columns) * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN
    height = rows * (BOX_H + GAP_Y) - GAP_Y + 150
    pos: dict[str, tuple[float, float]] = {}
    for ci, column in enumerate(columns):
        offset = (rows - len(column)) * (BOX_H + GAP_Y) / 2
        for ri, state in enumerate(column):
            pos[state] = (MARGIN + ci * (BOX_W + GAP_X), 60 + offset + ri * (BOX_H + GAP_Y))
    body = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>']
    labels = workflow.event_labels
    for a, b, events in edges:
        text = ", ".join(labels.get(e, e) for e in events)
        ax, ay = pos[a]
        bx, by = pos[b]
        if a == b:  # a loop above the box
            x, y = ax + BOX_W / 2, ay
            body.append(f'<path d="M{x - 22:.1f},{y:.1f} C{x - 30:.1f},{y - 34:.1f} {x + 30:.1f},{y - 34:.1f} '
                        f'{x + 22:.1f},{y:.1f}" fill="none" stroke="#444" stroke-width="1.3" '
                        f'marker-end="url(#arrow)"/>')
            body.append(_wrapped(x, y - 30, text, 30, text_anchor="middle", font_size=10, fill=TEXT))
            continue
        forward = bx > ax
        if forward or bx == ax:
            x1, y1 = ax + BOX_W, ay + BOX_H / 2
            x2, y2 = (bx, by + BOX_H / 2) if forward else (bx + BOX_W, by + BOX_H / 2)
            mid = (x1 + x2) / 2 if forward else x1 + 40
            d = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2 - 4
        else:  # backwards: under the boxes
            x1, y1 = ax + BOX_W / 2, ay + BOX_H
            x2, y2 = bx + BOX_W / 2, by + BOX_H
            dip = max(y1, y2) + 36
            d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{dip:.1f} {x2:.1f},{dip:.1f} {x2:.1f},{y2:.1f}"
            lx, ly = (x1 + x2) / 2, dip - 2
        body.append(f'<path d="{d}" fill="none" stroke="#444" stroke-width="1.3" marker-end="url(#arrow)"/>')
        body.append(_wrapped(lx, ly, text, 20, text_anchor="middle", font_size=10, fill=TEXT,
                             paint_order="stroke", stroke="#ffffff", stroke_width=3))
    finals = {s.value for s in workflow.machine.states if s.final}
    for state, (x, y) in pos.items():
        is_current = state == current
        fill = "#ffd54f" if is_current else ("#eef3fa" if state not in finals else "#e8f1e8")
        stroke = "#b34700" if is_current else "#1f5fa8"
        width_ = 3 if is_current else (2 if state in finals else 1.2)
        label = escape(workflow.state_labels.get(state, state))
        body.append(f'<g class="state{" current" if is_current else ""}"><rect x="{x:.1f}" y="{y:.1f}" '
                    f'width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" stroke="{stroke}" '
                    f'stroke-width="{width_}"/>'
                    f'<text x="{x + BOX_W / 2:.1f}" y="{y + BOX_H / 2 + 4:.1f}" text-anchor="middle" '
                    f'font-size="12" font-weight="{"bold" if is_current else "normal"}" fill="{TEXT}">{label}'
                    f'</text></g>')
    title = f"Схема состояний: {workflow.name}" + (
        f"; текущее состояние — {workflow.state_labels.get(current, current)}" if current else "")
    return _svg(int(width), int(height), title, body, css_class="diagram")


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
