"""/docs works on a closed network: the page and everything it loads come from this application."""
from __future__ import annotations

import re


def test_docs_page_loads_only_local_assets_and_they_are_served(app):
    client = app.test_client()
    r = client.get("/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    refs = re.findall(r'(?:src|href|data-spec-url)="([^"]+)"', html)
    assert refs, html
    assert not [u for u in refs if re.match(r"(https?:)?//", u)], refs  # nothing from outside
    assert "<script>" not in html  # no inline script: the ordinary CSP holds
    for url in refs:
        got = client.get(url)
        assert got.status_code == 200, (url, got.status_code)
        assert got.content_length or got.get_data(), url
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in bundle
    csp = r.headers.get("Content-Security-Policy", "")
    assert "cdn" not in csp and "script-src 'self';" in csp


def test_only_the_listed_assets_are_served(app):
    client = app.test_client()
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/..%2F__init__.py").status_code == 404
