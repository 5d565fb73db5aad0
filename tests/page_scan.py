"""What a person must never read on a page: department codes, English state or event names, field paths,
Python-style numbers ("3400.5", "0.9628", "54120").

``PageScanner`` wraps the WSGI app under the browser tests, so every HTML page any walkthrough
opens is scanned, as served; ``problems`` says which page showed what. Only the text a reader
sees is scanned: tags, attribute values, scripts and styles are not (a form's
``value="mfc"`` is for the browser), and neither are e-mail addresses or URLs.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from workflows.amendment import AMENDMENT
from workflows.information_request import INFORMATION_REQUEST
from workflows.report import REPORT

DEPARTMENT_CODES = ("economic-policy", "finance", "mfc", "it")
_WORKFLOWS = (INFORMATION_REQUEST, REPORT, AMENDMENT)
ENGLISH_NAMES = sorted({s.id for wf in _WORKFLOWS for s in wf.machine.states}
                       | {e for wf in _WORKFLOWS for e in wf.event_labels}, key=len, reverse=True)

_CODE = re.compile(r"(?<![\w@.-])(" + "|".join(map(re.escape, DEPARTMENT_CODES)) + r")(?![\w@-])")
_ENGLISH = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ENGLISH_NAMES)) + r")(?![\w-])")
# A decimal point between digits that is not a date (20.02.2017), a time or a code like "1.2.3".
_DOT_NUMBER = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")
# Five or more digits in a row with no group separator (years and ids are shorter).
_UNGROUPED = re.compile(r"(?<![\d.,\u00a0\u202f])\d{5,}(?![\d])")
# A field path or identifier from the code: "financing[2017].city", "due_date", "review_status".
_IDENTIFIER = re.compile(r"\b[a-z]+\[[^\]\s]*\][\w.\[\]]*|\b[a-z]+(?:_[a-z0-9]+)+\b")
_SKIP = re.compile(r"\S+@\S+|https?://\S+|/[\w/.-]+")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def scan(html: str) -> list[str]:
    """Each thing on the page a person should not read, with a little of the text around it."""
    text = _SKIP.sub(" ", visible_text(html))
    found = []
    for what, pattern in (("department code", _CODE), ("English name", _ENGLISH),
                          ("Python-style number", _DOT_NUMBER),
                          ("identifier", _IDENTIFIER), ("number without separators", _UNGROUPED)):
        for match in pattern.finditer(text):
            around = text[max(0, match.start() - 40):match.end() + 40].replace("\n", " ")
            found.append(f"{what} {match.group(0)!r} in «{around.strip()}»")
    return found


class PageScanner:
    """WSGI middleware: scans each HTML response's body for ``scan``'s findings."""

    def __init__(self, app):
        self.app = app
        self.problems: list[str] = []
        self.pages = 0

    def __call__(self, environ, start_response):
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["html"] = any(k.lower() == "content-type" and v.startswith("text/html") for k, v in headers)
            return start_response(status, headers, exc_info)

        body = self.app(environ, capture)
        if not captured.get("html"):
            return body
        chunks = list(body)
        if hasattr(body, "close"):
            body.close()
        self.pages += 1
        path = environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
        for problem in scan(b"".join(chunks).decode("utf-8", "replace")):
            self.problems.append(f"{path}: {problem}")
        return chunks
