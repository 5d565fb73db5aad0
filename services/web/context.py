"""Access to this process's Services from inside a Flask request."""
from flask import current_app


def current_services():
    return current_app.extensions["interdept"]
