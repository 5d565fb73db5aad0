"""Readable state diagrams (issue 14, item 8): labels at body-text size, none on top of another,
in Russian, for every workflow: laid out by Graphviz when `dot` is installed, drawn by hand when not."""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from services import amendments as am
from services import information_requests as ir
from services import reports as rp
from services.web.pages import graphviz_diagrams, svg

WORKFLOWS = [ir.WORKFLOW, rp.WORKFLOW, am.WORKFLOW]
BODY_PX = 16  # app.css: html { font-size: 100% }
NS = "{http://www.w3.org/2000/svg}"


def labels(markup) -> list[tuple[str, float, float, float, str]]:
    """(text, x, y, font size, anchor) of every text element."""
    root = ET.fromstring(str(markup))
    out = []
    for el in root.iter(f"{NS}text"):
        text = "".join(el.itertext()).strip()
        if text:
            out.append((text, float(el.get("x")), float(el.get("y")), float(el.get("font-size")),
                        el.get("text-anchor", "start")))
    return out


def box(label) -> tuple[float, float, float, float]:
    """An estimated bounding box: DejaVu Sans averages well under 0.6 em a glyph, ascent 0.75 em."""
    text, x, y, size, anchor = label
    w = len(text) * size * 0.55
    x0 = x - w / 2 if anchor == "middle" else (x - w if anchor == "end" else x)
    return x0, y - size * 0.75, x0 + w, y + size * 0.2


def overlapping(found) -> list[tuple[str, str]]:
    boxes = [(label[0], box(label)) for label in found]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
            if ba[0] < bb[2] and bb[0] < ba[2] and ba[1] < bb[3] and bb[1] < ba[3]]


def english_names(workflow) -> set[str]:
    return ({s.value for s in workflow.machine.states} | {s.id for s in workflow.machine.states}
            | {e.id for e in workflow.machine.events} | {e.name for e in workflow.machine.events}
            | {workflow.machine.__name__, workflow.name})


def check_readable(workflow, markup) -> None:
    found = labels(markup)
    assert found, workflow.name
    assert min(size for _, _, _, size, _ in found) >= BODY_PX, workflow.name
    assert not overlapping(found), (workflow.name, overlapping(found))
    text = " ".join(t for t, *_ in found)
    for label in workflow.state_labels.values():
        assert label in text, (workflow.name, label)
    for label in workflow.event_labels.values():
        assert label in text, (workflow.name, label)
    html = str(markup)
    for name in english_names(workflow):
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", html), (workflow.name, name)
    root = ET.fromstring(html)
    # Sized in pixels as laid out (one unit, one CSS pixel): the page never shrinks the labels.
    assert abs(float(root.get("width")) - float(root.get("viewBox").split()[2])) <= 1


needs_dot = pytest.mark.skipif(not graphviz_diagrams.available(), reason="!!! SKIPPED, NO GRAPHVIZ (dot)")


@needs_dot
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_graphviz_diagram_labels_are_body_size_russian_and_apart(workflow):
    markup = svg.state_diagram(workflow)
    assert 'class="diagram graphviz"' in str(markup)
    check_readable(workflow, markup)
    # Cached: the same object the second time, another one for another current state.
    assert svg.state_diagram(workflow) is markup
    current = workflow.states[1]
    lit = svg.state_diagram(workflow, current)
    assert lit is not markup and graphviz_diagrams.CURRENT_FILL in str(lit)
    assert f"текущее состояние — {workflow.state_labels[current]}" in str(lit)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_drawn_fallback_labels_are_body_size_russian_and_apart(workflow):
    markup = svg.state_diagram(workflow, graphviz=False)
    assert 'class="diagram drawn"' in str(markup)
    check_readable(workflow, markup)
    lit = svg.state_diagram(workflow, workflow.states[0], graphviz=False)
    check_readable(workflow, lit)
    assert "#ffd54f" in str(lit)


def test_without_dot_the_page_draws_the_fallback(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert not graphviz_diagrams.available()
    assert 'class="diagram drawn"' in str(svg.state_diagram(rp.WORKFLOW, "draft"))


RENDERED_LABELS = """() => Array.from(document.querySelectorAll('svg.diagram')).map(svg => {
  const r = svg.getBoundingClientRect();
  return {scale: r.width / svg.viewBox.baseVal.width,
          texts: Array.from(svg.querySelectorAll('text')).filter(t => t.textContent.trim()).map(t => {
            const b = t.getBoundingClientRect();
            return {text: t.textContent.trim(), size: parseFloat(getComputedStyle(t).fontSize),
                    x0: b.left, y0: b.top, x1: b.right, y1: b.bottom};
          })};
})"""


def _rendered_problems(page) -> list:
    body = float(page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)"))
    problems = []
    for diagram in page.evaluate(RENDERED_LABELS):
        if abs(diagram["scale"] - 1) > 0.01:
            problems.append(("scaled", diagram["scale"]))
        texts = diagram["texts"]
        problems += [("small", t["text"], t["size"]) for t in texts if t["size"] * diagram["scale"] < body]
        for i, a in enumerate(texts):
            for b in texts[i + 1:]:
                # The glyphs' real boxes; a 2 px tolerance for the line boxes of adjacent lines.
                if a["x0"] + 2 < b["x1"] and b["x0"] + 2 < a["x1"] and a["y0"] + 2 < b["y1"] and b["y0"] + 2 < a["y1"]:
                    problems.append(("overlap", a["text"], b["text"]))
    return problems


def test_workflows_page_in_chromium_labels_readable_and_apart(people_in_browser, monkeypatch):
    person = people_in_browser("it")
    person.goto("/workflows")
    assert person.page.locator("svg.diagram").count() == 3
    if graphviz_diagrams.available():
        assert person.page.locator("svg.diagram.graphviz").count() == 3
    assert _rendered_problems(person.page) == []
    person.shot("workflows-diagrams")
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)  # no `dot`: the hand-drawn fallback
    person.goto("/workflows")
    assert person.page.locator("svg.diagram.drawn").count() == 3
    assert _rendered_problems(person.page) == []
    person.shot("workflows-diagrams-fallback")


@needs_dot
def test_graphviz_marks_the_current_state_group():
    root = ET.fromstring(str(svg.state_diagram(rp.WORKFLOW, "submitted")))
    (group,) = [g for g in root.iter(f"{NS}g") if "current" in (g.get("class") or "").split()]
    assert "".join(group.itertext()).strip() == "Представлен"
