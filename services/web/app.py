"""The Flask application factory: nothing happens at import time."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import Settings
from services.bootstrap import bootstrap
from services.web.api import (
    admin, amendments, calendar, discipline, discussion, health, mail_log, me, programs, reports, requests,
    signatures, tokens, watchers,
)
from services.web.api.docs import init_docs
from services.web.api.errors import JsonErrorApi, register_error_handlers
from services.web.context import init_request_scope
from services.web.idempotency import init_idempotency
from services.web.input_guard import init_input_guard
from services.web.observability import init_observability
from services.web.pages.views import register_webui
from services.web.security import init_security
from services.web.session import init_web_session

BLUEPRINTS = (health.blp, programs.blp, calendar.blp, requests.blp, reports.blp, amendments.blp, me.blp,
              mail_log.blp, tokens.blp, admin.blp, signatures.blp, discipline.blp, discussion.blp, watchers.blp)


def create_app(settings: Settings | None = None, services=None, test_config: dict | None = None) -> Flask:
    settings = settings or (services.settings if services else Settings.from_env())
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Межведомственное взаимодействие: API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # /docs is served from the installed swagger-ui-bundle (services.web.api.docs), not a CDN.
        OPENAPI_SWAGGER_UI_PATH=None,
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    if settings.trusted_proxies > 0:  # believe only as many X-Forwarded-* hops as there are proxies of ours
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    if test_config:
        app.config.update(test_config)
    app.extensions["interdept"] = services or bootstrap(settings)
    init_request_scope(app)  # first: the token lookup of any later hook (idempotency) reads in it
    init_web_session(app)
    init_security(app)
    init_input_guard(app)
    init_idempotency(app)
    init_observability(app)  # logging, request ids, /metrics, /readyz

    api = JsonErrorApi(app)
    register_error_handlers(app)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    init_docs(app)
    register_webui(app)
    return app
