"""The whole access matrix: every route x every demo user (and an outsider, an anonymous caller and a
deactivated user) x an item of their own department and one of another, against the rules declared
here by hand.

A leak fails the test: a 2xx where the rules say no, another department's item answered with anything
but 404 (a 403 would confirm that it exists), a protected route answering an anonymous caller with
anything but 401. A route added to the app without a rule below fails ``test_every_route_is_declared``.

Public routes (decided here): /healthz, /readyz, /metrics (counts only; a token is optional),
/openapi.json, /docs, /static/*, /api/v1/public/*, /public/* (the published program pages), /api/v1/me/deadlines.ics (its token is in the URL: without a
valid one it is 404), /api/v1/keys and /api/v1/signatures/* (published so anyone can check a decision).
/api/v1/calendar/working-days (the official production calendar: public law, no stored data).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from typing import Callable


from tests.conftest import seed

SLUG = "kotovsk-information-society"
DEMO = ("it", "it_staff", "mfc", "mfc_staff", "econ", "finance", "admin")
# outsider: an executor of a department that takes no part in the program.
USERS = DEMO + ("outsider",)
PARTIES = frozenset(DEMO)  # every demo department takes part in the seeded program; admin sees all
CREATORS = frozenset({"it", "it_staff", "econ", "finance"})  # executor, economic_policy, finance
EXECUTOR = frozenset({"it", "it_staff"})
SEES_ALL_DISCIPLINE = frozenset({"econ", "finance", "admin"})  # the discipline report of every department

PUBLIC, SIGNED_IN, ROLE, SCOPED = "public", "signed_in", "role", "scoped"
WEB_LOGIN, WEB_FORM = "web_login", "web_form"


@dataclass(frozen=True)
class Rule:
    """Who may use a route.

    kind:   PUBLIC (anyone), SIGNED_IN (any active user, no department scope), ROLE (only ``ok``;
            everyone else exactly 403), SCOPED (a department's item: users outside ``item``'s
            visibility get exactly 404), WEB_LOGIN (an HTML page: callers without a session are sent to
            /login), WEB_FORM (an HTML form post: refused without a session and a CSRF token, never 2xx).
    item:   the item kind in the URL (SCOPED), see ``items`` in the fixture.
    ok:     who may get a 2xx (None: everyone the kind lets in). Nobody else ever may.
    denied: for SIGNED_IN/SCOPED, users refused for their role: exactly 403 (never 2xx).
    lists:  a list endpoint whose items must all be visible to the caller (item kind).
    """

    kind: str
    item: str | None = None
    ok: frozenset | None = None
    denied: frozenset = frozenset()
    json: dict | None = None
    query: str = ""
    files: bool = False
    lists: str | None = None


NOBODY = frozenset()
ADMIN = frozenset({"admin"})
PROBE = {"event": "__matrix_probe__"}  # schema-valid, never a real event: no state changes
COMMENT = {"body": "Матрица доступа: комментарий."}

RULES: dict[tuple[str, str], Rule] = {
    # --- public ---------------------------------------------------------------------------
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(PUBLIC),
    ("GET", "/metrics"): Rule(PUBLIC),  # open unless INTERDEPT_METRICS_TOKEN is set
    ("GET", "/openapi.json"): Rule(PUBLIC),
    ("GET", "/docs"): Rule(PUBLIC),
    ("GET", "/docs/init.js"): Rule(PUBLIC),
    ("GET", "/docs/assets/<name>"): Rule(PUBLIC),  # Swagger UI's packaged files
    ("GET", "/static/<path:filename>"): Rule(PUBLIC),
    ("GET", "/api/v1/public/programs/<slug>"): Rule(PUBLIC),
    ("GET", "/public/programs/<slug>"): Rule(PUBLIC),
    ("GET", "/api/v1/me/deadlines.ics"): Rule(PUBLIC),
    ("GET", "/api/v1/keys"): Rule(PUBLIC),
    ("GET", "/api/v1/signatures/<object_type>/<object_id>"): Rule(PUBLIC),
    ("GET", "/api/v1/calendar/working-days"): Rule(PUBLIC, query="start=2024-01-01&add=5"),
    # --- any signed-in user, no department scope ---------------------------------------------
    ("GET", "/api/v1/programs"): Rule(SIGNED_IN),
    ("GET", "/api/v1/programs/<slug>"): Rule(SIGNED_IN),
    ("GET", "/api/v1/programs/<slug>/versions"): Rule(SIGNED_IN),
    ("GET", "/api/v1/programs/<slug>/versions/<int:number>"): Rule(SIGNED_IN),
    ("GET", "/api/v1/me/preferences"): Rule(SIGNED_IN),
    ("PUT", "/api/v1/me/preferences"): Rule(SIGNED_IN, json={"reminder_mode": "digest"}),
    ("POST", "/api/v1/me/calendar-token"): Rule(SIGNED_IN),
    ("DELETE", "/api/v1/me/calendar-token"): Rule(SIGNED_IN),
    ("GET", "/api/v1/me/tokens"): Rule(SIGNED_IN),
    ("POST", "/api/v1/me/tokens"): Rule(SIGNED_IN, json={"name": "matrix", "expires_in_days": 1}),
    ("DELETE", "/api/v1/me/tokens/<int:token_id>"): Rule(SCOPED, item="token"),
    # lists: only what the caller may see
    ("GET", "/api/v1/requests"): Rule(SIGNED_IN, lists="request"),
    ("GET", "/api/v1/inbox"): Rule(SIGNED_IN, lists="request"),
    ("GET", "/api/v1/reports"): Rule(SIGNED_IN, lists="report"),
    ("GET", "/api/v1/amendments"): Rule(SIGNED_IN, lists="amendment"),
    # the discipline report: every signed-in user, counted over the items it may count (economic policy,
    # finance, admin: all; others: those they are a party to); the drill-down lists only those
    ("GET", "/api/v1/discipline"): Rule(SIGNED_IN),
    ("GET", "/api/v1/discipline/items"): Rule(SIGNED_IN, lists="discipline"),
    ("GET", "/api/v1/discipline.xlsx"): Rule(SIGNED_IN),
    ("GET", "/api/v1/discipline.pdf"): Rule(SIGNED_IN),
    # creation, by role
    ("POST", "/api/v1/requests"): Rule(
        SIGNED_IN, ok=CREATORS, denied=frozenset(USERS) - CREATORS - {"outsider"},
        json={"program": SLUG, "subject": "Матрица", "body": "-", "addressees": ["finance"], "send": False}),
    # Amendments are drafted by the executor department's people; the admin belongs to it (demo data).
    ("POST", "/api/v1/amendments"): Rule(
        SIGNED_IN, ok=EXECUTOR | ADMIN, denied=frozenset(USERS) - EXECUTOR - ADMIN - {"outsider"},
        json={"program": SLUG, "justification": "Матрица доступа.",
              "changes": {"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "11"}]}}),
    # --- a department's items: other departments get 404 -----------------------------------
    ("GET", "/api/v1/requests/<int:request_id>"): Rule(SCOPED, item="request"),
    ("GET", "/api/v1/requests/<int:request_id>/history"): Rule(SCOPED, item="request"),
    ("POST", "/api/v1/requests/<int:request_id>/transitions"): Rule(SCOPED, item="request", ok=NOBODY, json=PROBE),
    # Only the request's parties (by department) attach files; the admin, who may read every
    # request, is a party only of its own department's (the demo admin is in "it").
    ("POST", "/api/v1/requests/<int:request_id>/attachments"): Rule(SCOPED, item="request_party", files=True),
    ("GET", "/api/v1/requests/<int:request_id>/attachments/<int:attachment_id>"): Rule(SCOPED, item="attachment"),
    # Discussion: whoever sees the item reads it; whoever sees it through their own department writes
    # (the admin reads a request of other departments and is refused, 403, when it writes there).
    ("GET", "/api/v1/requests/<int:request_id>/comments"): Rule(SCOPED, item="request"),
    ("POST", "/api/v1/requests/<int:request_id>/comments"): Rule(SCOPED, item="request_writer", json=COMMENT),
    ("GET", "/api/v1/reports/<int:report_id>/comments"): Rule(SCOPED, item="report"),
    ("POST", "/api/v1/reports/<int:report_id>/comments"): Rule(SCOPED, item="report", json=COMMENT),
    ("GET", "/api/v1/amendments/<int:amendment_id>/comments"): Rule(SCOPED, item="amendment"),
    ("POST", "/api/v1/amendments/<int:amendment_id>/comments"): Rule(SCOPED, item="amendment", json=COMMENT),
    ("GET", "/api/v1/reports/<int:report_id>/attachments"): Rule(SCOPED, item="report"),
    ("POST", "/api/v1/reports/<int:report_id>/attachments"): Rule(SCOPED, item="report", files=True),
    ("GET", "/api/v1/reports/<int:report_id>/attachments/<int:attachment_id>"): Rule(SCOPED, item="report_file"),
    ("GET", "/api/v1/amendments/<int:amendment_id>/attachments"): Rule(SCOPED, item="amendment"),
    ("POST", "/api/v1/amendments/<int:amendment_id>/attachments"): Rule(SCOPED, item="amendment", files=True),
    ("GET", "/api/v1/amendments/<int:amendment_id>/attachments/<int:attachment_id>"): Rule(
        SCOPED, item="amendment_file"),
    ("GET", "/api/v1/reports/<int:report_id>"): Rule(SCOPED, item="report"),
    ("GET", "/api/v1/reports/<int:report_id>/history"): Rule(SCOPED, item="report"),
    ("GET", "/api/v1/reports/<int:report_id>.xlsx"): Rule(SCOPED, item="report"),
    ("GET", "/api/v1/reports/<int:report_id>.pdf"): Rule(SCOPED, item="report"),
    ("POST", "/api/v1/reports/<int:report_id>/transitions"): Rule(SCOPED, item="report", ok=NOBODY, json=PROBE),
    ("PUT", "/api/v1/reports/<int:report_id>/inputs"): Rule(
        SCOPED, item="report", ok=EXECUTOR, denied=PARTIES - EXECUTOR, json={}),
    ("GET", "/api/v1/amendments/<int:amendment_id>"): Rule(SCOPED, item="amendment"),
    ("GET", "/api/v1/amendments/<int:amendment_id>/history"): Rule(SCOPED, item="amendment"),
    ("GET", "/api/v1/amendments/<int:amendment_id>/revisions/<int:a>/diff/<int:b>"): Rule(SCOPED, item="amendment"),
    ("PUT", "/api/v1/amendments/<int:amendment_id>"): Rule(
        SCOPED, item="amendment", ok=NOBODY, json={"justification": "x", "version": 999999}),
    ("POST", "/api/v1/amendments/<int:amendment_id>/transitions"): Rule(
        SCOPED, item="amendment", ok=NOBODY, json=PROBE),
    ("POST", "/api/v1/amendments/<int:amendment_id>/rebase"): Rule(SCOPED, item="amendment", ok=NOBODY),
    # watchers: whoever may see the item lists its watchers and follows or unfollows it; others get its 404
    ("GET", "/api/v1/requests/<int:request_id>/watchers"): Rule(SCOPED, item="request"),
    ("PUT", "/api/v1/requests/<int:request_id>/watchers/me"): Rule(SCOPED, item="request"),
    ("DELETE", "/api/v1/requests/<int:request_id>/watchers/me"): Rule(SCOPED, item="request"),
    ("GET", "/api/v1/reports/<int:report_id>/watchers"): Rule(SCOPED, item="report"),
    ("PUT", "/api/v1/reports/<int:report_id>/watchers/me"): Rule(SCOPED, item="report"),
    ("DELETE", "/api/v1/reports/<int:report_id>/watchers/me"): Rule(SCOPED, item="report"),
    ("GET", "/api/v1/amendments/<int:amendment_id>/watchers"): Rule(SCOPED, item="amendment"),
    ("PUT", "/api/v1/amendments/<int:amendment_id>/watchers/me"): Rule(SCOPED, item="amendment"),
    ("DELETE", "/api/v1/amendments/<int:amendment_id>/watchers/me"): Rule(SCOPED, item="amendment"),
    ("GET", "/api/v1/programs/<slug>/amendments"): Rule(SCOPED, item="program"),
    ("GET", "/api/v1/programs/<slug>/versions/<int:a>/diff/<int:b>"): Rule(SCOPED, item="program"),
    ("GET", "/api/v1/programs/<slug>/versions/<int:number>/approvals"): Rule(SCOPED, item="program"),
    # --- web pages (services/webui): a session cookie, never a bearer token -----------------
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(WEB_FORM),
    ("POST", "/logout"): Rule(WEB_FORM),
    ("GET", "/ui/static/<path:filename>"): Rule(PUBLIC),
    ("GET", "/"): Rule(WEB_LOGIN),
    ("GET", "/workflows"): Rule(WEB_LOGIN),
    ("GET", "/programs"): Rule(WEB_LOGIN),
    ("GET", "/programs/<slug>"): Rule(WEB_LOGIN),
    ("GET", "/programs/<slug>/versions/<int:a>/diff/<int:b>"): Rule(WEB_LOGIN),
    ("GET", "/requests"): Rule(WEB_LOGIN),
    ("GET", "/requests/export.<fmt>"): Rule(WEB_LOGIN),
    ("GET", "/reports/export.<fmt>"): Rule(WEB_LOGIN),
    ("GET", "/amendments/export.<fmt>"): Rule(WEB_LOGIN),
    ("POST", "/<any(requests, reports, amendments):kind>/filters"): Rule(WEB_FORM),
    ("POST", "/<any(requests, reports, amendments):kind>/filters/<int:filter_id>/delete"): Rule(WEB_FORM),
    ("GET", "/requests/new"): Rule(WEB_LOGIN),
    ("POST", "/requests/new"): Rule(WEB_FORM),
    ("GET", "/requests/<int:request_id>"): Rule(WEB_LOGIN),
    ("POST", "/requests/<int:request_id>/action"): Rule(WEB_FORM),
    ("POST", "/requests/<int:request_id>/answer"): Rule(WEB_FORM),
    ("POST", "/requests/<int:request_id>/attachments"): Rule(WEB_FORM),
    ("GET", "/requests/<int:request_id>/attachments/<int:attachment_id>"): Rule(WEB_LOGIN),
    ("POST", "/requests/<int:request_id>/comments"): Rule(WEB_FORM),
    ("GET", "/reports"): Rule(WEB_LOGIN),
    ("GET", "/discipline"): Rule(WEB_LOGIN),
    ("GET", "/discipline/items"): Rule(WEB_LOGIN),
    ("GET", "/discipline.xlsx"): Rule(WEB_LOGIN),
    ("GET", "/discipline.pdf"): Rule(WEB_LOGIN),
    ("GET", "/reports/<int:report_id>"): Rule(WEB_LOGIN),
    ("GET", "/reports/<int:report_id>.pdf"): Rule(WEB_LOGIN),
    ("GET", "/reports/<int:report_id>.xlsx"): Rule(WEB_LOGIN),
    ("POST", "/reports/<int:report_id>/action"): Rule(WEB_FORM),
    ("POST", "/reports/<int:report_id>/inputs"): Rule(WEB_FORM),
    ("POST", "/reports/<int:report_id>/comments"): Rule(WEB_FORM),
    ("POST", "/reports/<int:report_id>/attachments"): Rule(WEB_FORM),
    ("GET", "/reports/<int:report_id>/attachments/<int:attachment_id>"): Rule(WEB_LOGIN),
    ("GET", "/amendments"): Rule(WEB_LOGIN),
    ("GET", "/amendments/new"): Rule(WEB_LOGIN),
    ("POST", "/amendments/new"): Rule(WEB_FORM),
    ("GET", "/amendments/<int:amendment_id>"): Rule(WEB_LOGIN),
    ("GET", "/amendments/<int:amendment_id>/edit"): Rule(WEB_LOGIN),
    ("POST", "/amendments/<int:amendment_id>/edit"): Rule(WEB_FORM),
    ("POST", "/amendments/<int:amendment_id>/action"): Rule(WEB_FORM),
    ("POST", "/requests/<int:request_id>/follow"): Rule(WEB_FORM),
    ("POST", "/requests/<int:request_id>/unfollow"): Rule(WEB_FORM),
    ("POST", "/reports/<int:report_id>/follow"): Rule(WEB_FORM),
    ("POST", "/reports/<int:report_id>/unfollow"): Rule(WEB_FORM),
    ("POST", "/amendments/<int:amendment_id>/follow"): Rule(WEB_FORM),
    ("POST", "/amendments/<int:amendment_id>/unfollow"): Rule(WEB_FORM),
    ("POST", "/amendments/<int:amendment_id>/comments"): Rule(WEB_FORM),
    ("POST", "/amendments/<int:amendment_id>/attachments"): Rule(WEB_FORM),
    ("GET", "/amendments/<int:amendment_id>/attachments/<int:attachment_id>"): Rule(WEB_LOGIN),
    # --- administration: admin only ---------------------------------------------------------
    ("GET", "/api/v1/mail"): Rule(ROLE, ok=ADMIN),
    ("GET", "/api/v1/admin/users"): Rule(ROLE, ok=ADMIN),
    ("POST", "/api/v1/admin/users"): Rule(ROLE, ok=ADMIN, json={
        "email": "matrix.new@kotovsk.example", "department": "finance", "roles": ["finance"]}),
    ("GET", "/api/v1/admin/users/<int:user_id>"): Rule(ROLE, ok=ADMIN),
    ("PATCH", "/api/v1/admin/users/<int:user_id>"): Rule(ROLE, ok=ADMIN, json={"name": "Жертва Матрицы"}),
    ("POST", "/api/v1/admin/users/<int:user_id>/deactivate"): Rule(ROLE, ok=ADMIN),
    ("POST", "/api/v1/admin/users/<int:user_id>/reactivate"): Rule(ROLE, ok=ADMIN),
    ("POST", "/api/v1/admin/users/<int:user_id>/password"): Rule(ROLE, ok=ADMIN, json={}),
    ("GET", "/api/v1/admin/departments"): Rule(ROLE, ok=ADMIN),
    ("POST", "/api/v1/admin/departments"): Rule(ROLE, ok=ADMIN, json={"code": "matrix", "name": "Матрица"}),
    ("GET", "/api/v1/admin/tokens"): Rule(ROLE, ok=ADMIN),
    ("DELETE", "/api/v1/admin/tokens/<int:token_id>"): Rule(ROLE, ok=ADMIN),
    ("POST", "/api/v1/admin/users/<int:user_id>/password-link"): Rule(ROLE, ok=ADMIN),
    ("POST", "/api/v1/mail/<int:email_id>/retry"): Rule(ROLE, ok=ADMIN),
    # --- administration pages (admin only: the others get the HTML 403 page) and the password link ---
    # the profile (/me): every signed-in person, own data only
    ("GET", "/me"): Rule(WEB_LOGIN),
    ("GET", "/me/preferences"): Rule(WEB_LOGIN),
    ("POST", "/me/password"): Rule(WEB_FORM),
    ("POST", "/me/reminders"): Rule(WEB_FORM),
    ("POST", "/me/calendar"): Rule(WEB_FORM),
    ("POST", "/me/calendar/revoke"): Rule(WEB_FORM),
    ("POST", "/me/tokens"): Rule(WEB_FORM),
    ("POST", "/me/tokens/<int:token_id>/revoke"): Rule(WEB_FORM),
    ("GET", "/admin"): Rule(WEB_LOGIN),
    ("GET", "/admin/users"): Rule(WEB_LOGIN),
    ("GET", "/admin/users/new"): Rule(WEB_LOGIN),
    ("POST", "/admin/users/new"): Rule(WEB_FORM),
    ("GET", "/admin/users/<int:user_id>"): Rule(WEB_LOGIN),
    ("POST", "/admin/users/<int:user_id>"): Rule(WEB_FORM),
    ("POST", "/admin/users/<int:user_id>/deactivate"): Rule(WEB_FORM),
    ("POST", "/admin/users/<int:user_id>/reactivate"): Rule(WEB_FORM),
    ("POST", "/admin/users/<int:user_id>/password-link"): Rule(WEB_FORM),
    ("GET", "/admin/departments"): Rule(WEB_LOGIN),
    ("POST", "/admin/departments"): Rule(WEB_FORM),
    ("GET", "/admin/tokens"): Rule(WEB_LOGIN),
    ("POST", "/admin/tokens/<int:token_id>/revoke"): Rule(WEB_FORM),
    ("GET", "/admin/mail"): Rule(WEB_LOGIN),
    ("POST", "/admin/mail/<int:email_id>/retry"): Rule(WEB_FORM),
    ("GET", "/admin/audit"): Rule(WEB_LOGIN),
    ("GET", "/password/set/<token>"): Rule(PUBLIC),
    ("POST", "/password/set/<token>"): Rule(WEB_FORM),
}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def app_routes(app) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - IGNORED_METHODS}


def test_every_route_is_declared(app):
    routes = app_routes(app)
    undeclared = sorted(routes - set(RULES))
    stale = sorted(set(RULES) - routes)
    assert not undeclared, f"routes with no access rule in {__file__}: {undeclared}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


# --- the world the matrix runs in ---------------------------------------------------------

@dataclass
class Item:
    params: dict
    visible_to: frozenset
    denied: frozenset = frozenset()  # who sees this item but is refused (403) here, whatever the rule says


@dataclass
class World:
    tokens: dict
    items: dict[str, list[Item]] = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # fixed path parameters
    per_user: dict[str, Callable[[str], list[Item]]] = field(default_factory=dict)


def _build_world(services, app) -> World:
    from services.models.registry import User
    from services.people import create_token
    from services.people import issue_token
    from services.registry import create_user, ensure_department
    from services.reports import run_schedule
    from services.signing import sign_decision

    tokens = seed(services)
    with services.uow() as uow:
        ensure_department(uow, "culture", "Управление культуры")
        _, tokens["outsider"] = create_user(uow, email="outsider@kotovsk.example", department="culture",
                                            roles=["executor"], name="Посторонний")
        gone, tokens["deactivated"] = create_user(uow, email="gone@kotovsk.example", department="it",
                                                  roles=["admin", "executor"], name="Уволен")
        gone.active = False
        victim, _ = create_user(uow, email="victim@kotovsk.example", department="mfc", roles=["co_executor"])
        _, victim_token = create_token(uow, victim, "victim", 30)
        uow.commit()
        victim_id = victim.id
    run_schedule(services, date(2017, 6, 1), backlog=True)
    client = app.test_client()

    def call(who, method, url, **kw):
        r = client.open(url, method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)
        assert r.status_code < 300, (who, method, url, r.get_json())
        return r.get_json()

    def new_request(who, to):
        return call(who, "POST", "/api/v1/requests", json={
            "program": SLUG, "subject": f"{who}->{to}", "body": "-", "addressees": [to], "send": True,
        })["requests"][0]["id"]

    def upload(who, url, content: bytes):
        return call(who, "POST", url, data={"file": (io.BytesIO(b"%PDF-1.4 " + content), "m.pdf", "application/pdf")},
                    content_type="multipart/form-data")["id"]

    it_mfc = new_request("it", "mfc")
    econ_fin = new_request("econ", "finance")
    att = upload("it", f"/api/v1/requests/{it_mfc}/attachments", b"matrix")
    att_other = upload("econ", f"/api/v1/requests/{econ_fin}/attachments", b"other")
    amendment = call("it", "POST", "/api/v1/amendments", json={
        "program": SLUG, "justification": "Матрица.",
        "changes": {"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}})["id"]
    report = call("admin", "GET", f"/api/v1/reports?program={SLUG}")["items"][0]["id"]
    report_file = upload("econ", f"/api/v1/reports/{report}/attachments", b"report")
    amendment_file = upload("finance", f"/api/v1/amendments/{amendment}/attachments", b"amendment")
    with services.uow() as uow:
        sign_decision(uow, services, "it", "report", report, "accept", {"report": report})
        # a disposable token of each user, so revoking one's "own" token leaves the caller signed in
        disposable = {}
        for who in USERS:
            user = uow.session.query(User).filter(User.email.like(f"{who.replace('_', '.')}@%")).one()
            disposable[who] = create_token(uow, user, "disposable", 1)[0].id
        uow.commit()
    with services.uow() as uow:
        victim = uow.session.get(User, victim_id)
        other_token = create_token(uow, victim, "other", 1)[0].id
        issue_token(uow, victim, "x")
        uow.commit()

    requester_it = frozenset({"it", "it_staff", "mfc", "mfc_staff", "admin"})
    requester_econ = frozenset({"econ", "finance", "admin"})
    world = World(tokens=tokens)
    world.items = {
        "request": [Item({"request_id": it_mfc}, requester_it), Item({"request_id": econ_fin}, requester_econ)],
        "request_party": [Item({"request_id": it_mfc}, requester_it),
                          Item({"request_id": econ_fin}, requester_econ - {"admin"})],
        "attachment": [Item({"request_id": it_mfc, "attachment_id": att}, requester_it),
                       Item({"request_id": econ_fin, "attachment_id": att_other}, requester_econ)],
        "request_writer": [Item({"request_id": it_mfc}, requester_it),
                           Item({"request_id": econ_fin}, requester_econ, denied=ADMIN)],
        "report": [Item({"report_id": report}, PARTIES)],
        # a file under its own item, and under the other kind's address (never found there)
        "report_file": [Item({"report_id": report, "attachment_id": report_file}, PARTIES),
                        Item({"report_id": report, "attachment_id": amendment_file}, NOBODY)],
        "amendment_file": [Item({"amendment_id": amendment, "attachment_id": amendment_file}, PARTIES),
                           Item({"amendment_id": amendment, "attachment_id": report_file}, NOBODY)],
        # counted in the discipline report: the parties, and economic policy, finance and the admin for all
        "discipline": [Item({"request_id": it_mfc}, requester_it | SEES_ALL_DISCIPLINE),
                       Item({"request_id": econ_fin}, requester_econ | SEES_ALL_DISCIPLINE)],
        "amendment": [Item({"amendment_id": amendment, "a": 1, "b": 1}, PARTIES)],
        "program": [Item({"slug": SLUG, "a": 1, "b": 1, "number": 1}, PARTIES)],
    }
    world.per_user["token"] = lambda who: [Item({"token_id": disposable[who]}, frozenset({who})),
                                           Item({"token_id": other_token}, NOBODY)]
    world.params = {"slug": SLUG, "number": 1, "user_id": victim_id, "token_id": other_token,
                    "object_type": "report", "object_id": report, "filename": "does-not-exist.css",
                    "request_id": it_mfc, "report_id": report, "amendment_id": amendment, "attachment_id": att,
                    "a": 1, "b": 1, "email_id": 999_999, "token": "not-a-password-link",
                    "name": "swagger-ui.css", "fmt": "xlsx", "kind": "requests", "filter_id": 1}
    world.victim_token = victim_token
    return world


def _url(rule: str, params: dict) -> str:
    import re

    def sub(m):
        name = m.group(1).split(":")[-1]
        return str(params[name])

    return re.sub(r"<([^>]+)>", sub, rule)


def _request(client, method, url, rule: Rule, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw = {}
    if rule.files:
        kw = {"data": {"file": (io.BytesIO(b"%PDF-1.4 probe"), "p.pdf", "application/pdf")},
              "content_type": "multipart/form-data"}
    elif rule.json is not None or method in ("POST", "PUT", "PATCH"):
        kw = {"json": rule.json if rule.json is not None else {}}
    if rule.query:
        url = f"{url}?{rule.query}"
    return client.open(url, method=method, headers=headers, **kw)


def _items(world: World, rule: Rule, who: str) -> list[Item]:
    if rule.item is None:
        return [Item(dict(world.params), frozenset(USERS))]
    items = world.per_user[rule.item](who) if rule.item in world.per_user else world.items[rule.item]
    return [Item({**world.params, **item.params}, item.visible_to, item.denied) for item in items]


def _visible_ids(world: World, kind: str, who: str) -> set[int]:
    key = {"request": "request_id", "report": "report_id", "amendment": "amendment_id",
           "discipline": "request_id"}[kind]
    return {i.params[key] for i in world.items[kind] if who in i.visible_to}


def _hidden_ids(world: World, kind: str, who: str) -> set[int]:
    key = {"request": "request_id", "report": "report_id", "amendment": "amendment_id",
           "discipline": "request_id"}[kind]
    return {i.params[key] for i in world.items[kind] if who not in i.visible_to}


def _check(world, client, method, path, rule: Rule, who: str, failures: list) -> None:
    token = world.tokens.get(who) if who not in ("anonymous",) else None
    for item in _items(world, rule, who if who in USERS else "it"):
        url = _url(path, item.params)
        r = _request(client, method, url, rule, token)
        status = r.status_code
        where = f"{method} {url} as {who}: {status}"
        if rule.kind == WEB_LOGIN:  # bearer tokens do not sign anyone in to the pages
            location = r.headers.get("Location", "")
            if status not in (302, 303) or not location.startswith("/login"):
                failures.append(f"{where} — a page without a session must redirect to /login")
            continue
        if rule.kind == WEB_FORM:
            if status < 300 or status >= 500:
                failures.append(f"{where} — a form post without a session or CSRF token was not refused")
            continue
        if who in ("anonymous", "deactivated", "bad_token"):
            if rule.kind == PUBLIC:
                if status == 401:
                    failures.append(f"{where} — public route asked for authorization")
            elif rule.kind == WEB_LOGIN:
                if status < 300 or (status in (301, 302, 303) and "/login" not in r.headers.get("Location", "")):
                    failures.append(f"{where} — page served without sign-in")
            elif status != 401:
                failures.append(f"{where} — expected 401 for {who}")
            continue
        if rule.kind == PUBLIC:
            continue
        if status == 401:
            failures.append(f"{where} — a valid token refused")
            continue
        may_see = who in item.visible_to
        if rule.kind == ROLE:
            allowed = who in rule.ok
            if not allowed and status != 403:
                failures.append(f"{where} — expected 403 (role)")
            elif allowed and status == 403:
                failures.append(f"{where} — the role that may use it was refused")
            continue
        if not may_see:
            if status != 404:
                failures.append(f"{where} — another department's item must be 404")
            continue
        if who in rule.denied or who in item.denied:
            if status != 403:
                failures.append(f"{where} — expected 403 (role)")
            continue
        if status == 404 and rule.kind == SCOPED:
            failures.append(f"{where} — an item the caller may see is 404")
        ok = rule.ok if rule.ok is not None else frozenset(USERS)
        if 200 <= status < 300 and who not in ok:
            failures.append(f"{where} — 2xx where the rules say no")
        if status >= 500:
            failures.append(f"{where} — server error")
        if rule.lists and status == 200:
            body = r.get_json()
            ids = {i["id"] for i in body.get("items", [])}
            leaked = ids & _hidden_ids(world, rule.lists, who)
            if leaked:
                failures.append(f"{where} — lists items of another department: {sorted(leaked)}")
            missing = _visible_ids(world, rule.lists, who) - ids
            if missing and rule.lists != "request":  # inbox/request lists are filtered by role further
                failures.append(f"{where} — misses visible items {sorted(missing)}")


def test_access_matrix(services, app):
    world = _build_world(services, app)
    client = app.test_client()
    world.tokens["bad_token"] = "not-a-token"
    failures: list[str] = []
    routes = app_routes(app)
    checked = 0
    # Admin's mutating calls go last, so the victim stays as the others see it.
    order = sorted(routes & set(RULES), key=lambda mr: (mr[0] != "GET", mr[1]))
    callers = ("anonymous", "bad_token", "deactivated") + tuple(u for u in USERS if u != "admin") + ("admin",)
    for method, path in order:
        rule = RULES[(method, path)]
        for who in callers:
            _check(world, client, method, path, rule, who, failures)
            checked += 1
    assert checked > 400
    assert not failures, f"{len(failures)} access leaks or refusals:\n" + "\n".join(failures)
