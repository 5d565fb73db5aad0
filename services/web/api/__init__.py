"""The HTTP API, one blueprint per area."""


def blueprints():
    from services.web.api import calendar, health, programs, reports, requests, amendments, me, mail_log

    from services.web.api import admin, signatures, tokens

    return [health.blp, programs.blp, calendar.blp, requests.blp, reports.blp, amendments.blp, me.blp,
            mail_log.blp, tokens.blp, admin.blp, signatures.blp]
