"""The HTTP API, one blueprint per area."""


def blueprints():
    from services.api import calendar, health, programs, requests

    return [health.blp, programs.blp, calendar.blp, requests.blp]
