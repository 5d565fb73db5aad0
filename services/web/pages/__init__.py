"""The web interface in Russian: server-rendered pages over the same use cases as the API.

Every page calls the functions in ``services.*`` that the JSON API calls (no
second path to the data); sign-in, sessions and CSRF come from
``services.web.session``. Pages need no front-end build: Jinja2 templates, one
stylesheet, one small script, and charts drawn on the server as inline SVG, so
the whole interface works under ``Content-Security-Policy: default-src 'self'``.
"""
from __future__ import annotations

from flask import Flask

PUBLIC_PAGE = "/public/programs/<slug>"


def register_webui(app: Flask) -> None:
    """Register the pages, their filters and the public program page on ``app``."""
    from services.web.pages import filters
    from services.web.pages.views import bp
    from services.web.pages.programs import public_program_page

    filters.register(app)
    app.register_blueprint(bp)
    # The reports API may already serve a bare page at this address; the full page (passport,
    # indicators, published reports) takes over its view, so one URL keeps one page.
    taken = [rule for rule in app.url_map.iter_rules() if rule.rule == PUBLIC_PAGE]
    for rule in taken:
        app.view_functions[rule.endpoint] = public_program_page
    if not taken:
        app.add_url_rule(PUBLIC_PAGE, "webui_public_program", public_program_page)
