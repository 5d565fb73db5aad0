"""The Flask application factory: nothing happens at import time."""
from __future__ import annotations

import logging

from flask import Flask

from config.settings import Settings
from services.web.api.errors import JsonErrorApi, register_error_handlers


def create_app(settings: Settings | None = None, services=None, test_config: dict | None = None) -> Flask:
    from services.bootstrap import bootstrap

    settings = settings or (services.settings if services else Settings.from_env())
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Межведомственное взаимодействие: API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    if test_config:
        app.config.update(test_config)
    app.extensions["interdept"] = services or bootstrap(settings)
    from services.web.security import init_security
    from services.web.session import init_web_session

    init_web_session(app)
    init_security(app)
    logging.basicConfig(level=logging.INFO)

    api = JsonErrorApi(app)
    register_error_handlers(app)
    from services.web.api import blueprints

    for blp in blueprints():
        api.register_blueprint(blp)
    from services.web.pages import register_webui; register_webui(app)
    return app
