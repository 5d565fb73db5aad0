"""State diagrams laid out by Graphviz through python-statemachine's own diagram support.

``statemachine.contrib.diagram`` extracts the states and transitions from the machine class
and renders them as DOT (pydot); ``dot`` lays them out, so no two labels overlap. We put the
workflow's Russian state and event labels in (guards are code names and are left out), merge
the events between the same two states into one label, draw every label at the page's body
size (16 px: one SVG unit is one CSS pixel here) and cache the SVG per workflow and current
state. ``render`` returns None when ``dot`` is not installed or fails: the caller then draws
the hand-made diagram (``svg.state_diagram``).
"""
from __future__ import annotations

import logging
import shutil
import threading
import xml.etree.ElementTree as ET
from dataclasses import replace

from markupsafe import Markup

try:  # pydot is what the renderer builds on; without it there is no Graphviz path either
    from statemachine.contrib.diagram import GraphvizError, run_graphviz
    from statemachine.contrib.diagram.extract import extract
    from statemachine.contrib.diagram.model import DiagramGraph, DiagramTransition
    from statemachine.contrib.diagram.renderers.dot import DotRenderer, DotRendererConfig, _escape_html
except ImportError:  # pragma: no cover - pydot missing
    DotRenderer = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

FONT_PX = 16  # the page's body text (app.css: html { font-size: 100% })
FONT = "DejaVu Sans"
CURRENT_FILL = "#ffd54f"
SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

_cache: dict[tuple[str, str | None], Markup] = {}
_lock = threading.Lock()


def available() -> bool:
    return DotRenderer is not None and shutil.which("dot") is not None


if DotRenderer is not None:
    class _RussianDotRenderer(DotRenderer):
        """The library's renderer, with an edge label of several events on several lines."""

        def _build_edge_label(self, event: str, cond_html: str, index: int) -> str:
            if index or not event:
                return ""
            lines = "<br/>".join(_escape_html(line) for line in event.split("\n"))
            return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="0">'
                    f'<tr><td cellpadding="4"><font point-size="{self.config.transition_font_size}">{lines}'
                    f'</font></td></tr></table>>')


def _russian_graph(workflow, current: str | None) -> "DiagramGraph":
    graph = extract(workflow.machine)
    value_of = {s.id: s.value for s in workflow.machine.states}
    event_id = {e.name: e.id for e in workflow.machine.events}
    states = [replace(s, name=workflow.state_labels.get(value_of.get(s.id, s.id), s.name),
                      is_active=value_of.get(s.id) == current) for s in graph.states]
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    others = []
    for t in graph.transitions:
        if t.is_initial or t.is_internal:
            others.append(t)
            continue
        label = workflow.event_labels.get(event_id.get(t.event, t.event), t.event)
        events = merged.setdefault((t.source, tuple(t.targets)), [])
        if label not in events:
            events.append(label)
    transitions = others + [DiagramTransition(source=src, targets=list(dst), event="\n".join(events))
                            for (src, dst), events in merged.items()]
    return replace(graph, states=states, transitions=transitions)


def _dot_source(workflow, current: str | None) -> str:
    config = DotRendererConfig(
        graph_rankdir="TB", font_name=FONT, state_font_size=str(FONT_PX), transition_font_size=str(FONT_PX),
        state_active_fillcolor=CURRENT_FILL, state_active_penwidth=3,
        graph_attrs={"nodesep": "0.5", "ranksep": "0.6", "pad": "0.2"},
        node_attrs={"color": "#1f5fa8", "margin": "0.2,0.1"},
        edge_attrs={"color": "#444444"},
    )
    dot = _RussianDotRenderer(config=config).render(_russian_graph(workflow, current))
    dot.set("label", '""')  # the graph's label would be the class name
    return dot.to_string()


def _clean_svg(raw: bytes, title: str, current_id: str | None = None) -> Markup:
    """Graphviz's SVG made fit for the page: no English titles or ids, 1 unit = 1 px, our title."""
    root = ET.fromstring(raw)
    if current_id is not None:  # the lit state's group is marked like the hand-drawn one (class "current")
        for group in root.iter(f"{{{SVG_NS}}}g"):
            name = group.find(f"{{{SVG_NS}}}title")
            if group.get("class") == "node" and name is not None and name.text == current_id:
                group.set("class", "state current")
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{SVG_NS}}}title":
                parent.remove(child)
    for el in root.iter():
        el.attrib.pop("id", None)
        if el.tail is not None and not el.tail.strip():  # one line, like the other inline pictures
            el.tail = None
        if el.text is not None and not el.text.strip():
            el.text = None
    view = root.get("viewBox", "").split()
    if len(view) == 4:
        root.set("width", f"{float(view[2]):.0f}")
        root.set("height", f"{float(view[3]):.0f}")
    root.set("class", "diagram graphviz")
    root.set("role", "img")
    root.set("aria-label", title)
    heading = ET.Element(f"{{{SVG_NS}}}title")
    heading.text = title
    root.insert(0, heading)
    return Markup(ET.tostring(root, encoding="unicode"))


def render(workflow, current: str | None, title: str) -> Markup | None:
    """The Graphviz SVG (cached), or None when Graphviz cannot draw it here."""
    if not available():
        return None
    key = (workflow.name, current)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        current_id = next((s.id for s in workflow.machine.states if s.value == current), None)
        svg = _clean_svg(run_graphviz(_dot_source(workflow, current), "svg"), title, current_id)
    except (GraphvizError, OSError, ET.ParseError) as exc:
        log.warning("graphviz could not draw the %s diagram (%s); drawing it by hand", workflow.name, exc)
        return None
    with _lock:
        _cache[key] = svg
    return svg
