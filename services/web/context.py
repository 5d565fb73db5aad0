"""What a Flask request knows: this process's Services and the caller's address."""
from flask import current_app, request


def current_services():
    return current_app.extensions["interdept"]


def client_address() -> str | None:
    """The caller's address, handed to the use cases on the Actor (nothing below web reads Flask)."""
    return request.remote_addr or None  # what ProxyFix yields: forwarded headers only from trusted proxies
