"""All pages live on one blueprint; importing the area modules registers their routes."""
from __future__ import annotations

from flask import Flask

from services.web.pages import (  # noqa: F401  (route registration)
    admin, amendments, auth, discipline, error_pages, filters, home, password_links, profile, programs, reports,
    requests, watchers, workflow_pages,
)
from services.web.pages.common import bp

PUBLIC_PAGE = "/public/programs/<slug>"


def register_webui(app: Flask) -> None:
    """Register the pages, their filters and the public program page on ``app``."""
    filters.register(app)
    app.register_blueprint(bp)
    error_pages.init_error_pages(app)
    # The reports API may already serve a bare page at this address; the full page (passport,
    # indicators, published reports) takes over its view, so one URL keeps one page.
    taken = [rule for rule in app.url_map.iter_rules() if rule.rule == PUBLIC_PAGE]
    for rule in taken:
        app.view_functions[rule.endpoint] = programs.public_program_page
    if not taken:
        app.add_url_rule(PUBLIC_PAGE, "webui_public_program", programs.public_program_page)
