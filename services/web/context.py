"""What a Flask request knows: this process's Services, the caller's address, and the request's
one database connection."""
from flask import Flask, current_app, request

from services.adapters.unit_of_work import REQUEST_SCOPE, RequestScope

API_PREFIX = "/api/"


def current_services():
    return current_app.extensions["interdept"]


def client_address() -> str | None:
    """The caller's address, handed to the use cases on the Actor (nothing below web reads Flask)."""
    return request.remote_addr or None  # what ProxyFix yields: forwarded headers only from trusted proxies


def request_scope() -> RequestScope | None:
    """This request's connection and session, shared by the bearer-token lookup and the view's unit
    of work (``RequestScope``), when the request has one (every /api/ request)."""
    return REQUEST_SCOPE.get()


def init_request_scope(app: Flask) -> None:
    """Every /api/ request: one pooled connection, checked out at its first statement (the token
    lookup) and given back at the end; the lookup and the view share one transaction."""

    @app.before_request
    def _open_scope():
        REQUEST_SCOPE.set(RequestScope(current_services().session_factory)
                          if request.path.startswith(API_PREFIX) else None)

    @app.teardown_request
    def _close_scope(_exc):
        scope, _ = REQUEST_SCOPE.get(), REQUEST_SCOPE.set(None)
        if scope is not None:
            scope.close()
