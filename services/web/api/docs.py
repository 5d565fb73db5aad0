"""The API's documentation page (Swagger UI), served from the installed package: no CDN.

An administration's closed network reaches nothing outside, so the page, its scripts and styles
all come from this application. The assets are those of the PyPI package ``swagger-ui-bundle``,
pinned exactly in pyproject.toml (its version fixes the Swagger UI version shipped). The page has
no inline script, so /docs runs under the same Content-Security-Policy as every other page.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, send_from_directory, url_for
from markupsafe import escape
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
# Only what the page uses; nothing else in the package directory is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                    "favicon-16x16.png", "favicon-32x32.png"})

bp = Blueprint("docs", __name__)

_PAGE = """<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" type="image/png" href="{favicon}">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{preset}"></script>
<script src="{init}"></script>
</body>
</html>
"""

_INIT = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""


def _asset(name: str) -> str:
    return url_for("docs.asset", name=name)


@bp.route(DOCS_PATH)
def page():
    """Swagger UI over /openapi.json."""
    from flask import current_app

    html = _PAGE.format(title=escape(current_app.config.get("API_TITLE", "API")),
                        favicon=_asset("favicon-32x32.png"), css=_asset("swagger-ui.css"),
                        bundle=_asset("swagger-ui-bundle.js"), preset=_asset("swagger-ui-standalone-preset.js"),
                        init=url_for("docs.init"), spec=url_for("api-docs.openapi_json"))
    return Response(html, mimetype="text/html")


@bp.route(f"{DOCS_PATH}/init.js")
def init():
    response = Response(_INIT, mimetype="text/javascript")
    response.cache_control.max_age = 3600
    return response


@bp.route(f"{DOCS_PATH}/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=86400)


def init_docs(app) -> None:
    app.register_blueprint(bp)
