"""What an operator watches: /metrics (Prometheus), /readyz, request ids and JSON logs.

``init_observability(app)`` is the one call the app factory makes. It

- gives every request an id: a sane incoming ``X-Request-Id``, else a new one, returned in the
  response's ``X-Request-Id`` and bound for the request (log lines, outbox events);
- counts HTTP requests and times them by route (the URL rule, never the raw path), method and
  status. Those live in process memory: under gunicorn each worker has its own, so
  ``interdept web`` sets ``PROMETHEUS_MULTIPROC_DIR`` and every worker writes its figures
  there for the scrape to add up (prometheus-client's multiprocess mode);
  ``interdept_http_metrics_multiprocess 0`` says a scrape saw only the process that answered;
- serves ``GET /metrics``: those figures plus what services.adapters.metrics reads from the
  database (outbox backlog, emails by state, transitions, job durations), open unless
  ``INTERDEPT_METRICS_TOKEN`` is set;
- serves ``GET /readyz``: the database and the broker, 503 naming the one that failed.

Neither endpoint is in /openapi.json: they are for the operator's tools, not API clients.
"""
from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from services.adapters.broker import broker_problem
from services.adapters.log_format import configure_logging
from services.adapters.metrics import DatabaseCollector
from services.adapters.request_id import REQUEST_ID, new_request_id, sane_request_id
from services.web.api.errors import error_response
from services.web.context import current_services

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
UNMATCHED_ROUTE = "unmatched"
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_CHECK_NAMES = ("database", "broker")
_NOT_READY = {
    ("database",): "Сервис не готов: недоступна база данных.",
    ("broker",): "Сервис не готов: недоступен брокер сообщений.",
    ("database", "broker"): "Сервис не готов: недоступны база данных и брокер сообщений.",
}

blp = Blueprint("observability", __name__)


@dataclass
class HttpMetrics:
    requests: Counter
    latency: Histogram
    multiprocess: bool


_HTTP: HttpMetrics | None = None


def http_metrics() -> HttpMetrics:
    """This process's HTTP metrics, made on first use (one set per process, however many apps)."""
    global _HTTP
    if _HTTP is None:
        # prometheus-client chose its value store when it was imported: files in
        # PROMETHEUS_MULTIPROC_DIR if that was set then, else memory.
        multiprocess = values.ValueClass is not values.MutexValue
        _HTTP = HttpMetrics(
            requests=Counter("interdept_http_requests", "HTTP requests answered, by route, method and status",
                             ["route", "method", "status"], registry=None),
            latency=Histogram("interdept_http_request_duration_seconds",
                              "Time to answer an HTTP request, by route and method", ["route", "method"],
                              registry=None),
            multiprocess=multiprocess,
        )
    return _HTTP


def init_observability(app: Flask) -> None:
    services = app.extensions["interdept"]
    configure_logging(services.settings.log_format)
    app.extensions["interdept.metrics"] = DatabaseCollector(services.session_factory)
    http_metrics()
    # First of all before-request hooks, so a request another hook answers early is timed and has an id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
    app.teardown_request(_forget_request)
    app.register_blueprint(blp)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
    REQUEST_ID.set(g.request_id)


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.pop("request_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        method = request.method if request.method in _METHODS else "other"
        metrics = http_metrics()
        metrics.requests.labels(route, method, str(response.status_code)).inc()
        metrics.latency.labels(route, method).observe(time.perf_counter() - started)
    return response


def _forget_request(_error=None) -> None:
    REQUEST_ID.set(None)


class _ModeCollector:
    def __init__(self, multiprocess: bool):
        self.multiprocess = multiprocess

    def collect(self):
        mode = GaugeMetricFamily("interdept_http_metrics_multiprocess",
                                 "1 when HTTP figures add up every web process (PROMETHEUS_MULTIPROC_DIR), "
                                 "0 when they are the answering process's only")
        mode.add_metric([], 1 if self.multiprocess else 0)
        yield mode


@blp.route("/metrics")
def metrics():
    token = current_services().settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = error_response(401, "unauthorized",
                                      "Нужен токен метрик: заголовок Authorization: Bearer <токен>.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    http = http_metrics()
    registry = CollectorRegistry(auto_describe=False)
    if http.multiprocess:
        MultiProcessCollector(registry)
    else:
        registry.register(http.requests)
        registry.register(http.latency)
    registry.register(_ModeCollector(http.multiprocess))
    registry.register(current_app.extensions["interdept.metrics"])
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                        "Cache-Control": "no-store"})


@blp.route("/readyz")
def readyz():
    """Ready when the database answers and the broker would take a message."""
    services = current_services()
    problems: dict[str, str] = {}
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  any failure is "not ready"
        problems["database"] = f"{type(exc).__name__}: {exc}"[:300]
    broker = broker_problem(services.settings)
    if broker:
        problems["broker"] = broker
    checks = {name: "unavailable" if name in problems else "ok" for name in _CHECK_NAMES}
    if not problems:
        response = jsonify({"status": "ok", "checks": checks})
    else:
        for name, why in problems.items():
            log.warning("not ready: %s: %s", name, why)
        failed = [name for name in _CHECK_NAMES if name in problems]
        response = jsonify({
            "status": "unavailable", "failed": failed, "checks": checks,
            "error": {"code": "not_ready", "message": _NOT_READY[tuple(failed)]},
        })
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response
