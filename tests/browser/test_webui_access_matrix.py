"""The web pages' access matrix: every page and form route of the web UI x every demo user (an outsider
department and an anonymous caller too) x an item of their department and one of another's, against
the rules declared here by hand. The JSON API has its own matrix in tests/api/test_access_matrix.py.

Signed in the way a browser is: POST /login with the CSRF token read from the login form, then the
session cookie (CSRF stays on, as in production). A leak fails the test:

* a page of an item the caller may not see answers anything but 404 (a 403 would confirm it exists),
  or shows the item's subject;
* a list page (home inbox, /requests, /amendments, /reports) shows another department's subject;
* a page answers an anonymous caller with anything but a redirect to /login;
* a form post by someone whose role or department may not act changes the item (its row, history,
  answers and attachments are compared before and after), or is not refused, or is a 500;
* a form post without the CSRF token is not refused with 400.

A web UI route with no rule below fails ``test_every_webui_route_is_declared``.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date

from tests.conftest import seed

SLUG = "kotovsk-information-society"
PASSWORD = "demo-password-1"
DEMO = ("it", "it_staff", "mfc", "mfc_staff", "econ", "finance", "admin")
# outsider: an executor of a department (culture) that takes no part in the program.
USERS = DEMO + ("outsider",)
EMAILS = {"it": "it@kotovsk.example", "it_staff": "it.staff@kotovsk.example", "mfc": "mfc@kotovsk.example",
          "mfc_staff": "mfc.staff@kotovsk.example", "econ": "econ@kotovsk.example",
          "finance": "finance@kotovsk.example", "admin": "admin@kotovsk.example",
          "outsider": "outsider@kotovsk.example"}
ANON = "anonymous"
EVERYONE = frozenset(USERS)
NOBODY = frozenset()
PARTIES = frozenset(DEMO)  # every demo department takes part in the program; the admin sees all
IT_DEPT = frozenset({"it", "it_staff", "admin"})  # the demo admin belongs to the IT department
EXECUTORS = frozenset({"it", "it_staff"})  # executor role in the executor department
CREATORS = frozenset({"it", "it_staff", "econ", "finance"})  # may create information requests
ADMINS = frozenset({"admin"})  # the administration pages; everyone else signed in gets the 403 page
SEES_MFC = IT_DEPT | {"mfc", "mfc_staff"}  # an IT -> MFC request
SEES_FIN = IT_DEPT | {"finance"}  # an IT -> finance request

# Subjects and texts that must never reach a caller who may not see their item.
SUBJECT_MFC = "Секрет-МФЦ посещаемость"
SUBJECT_FIN = "Секрет-ФИН кассовые расходы"
JUSTIFICATION = "Секрет-ПРОЕКТ обоснование изменений"
ANSWER_FIN = "Секрет-ОТВЕТ финансового отдела"  # finance's answer in a thread also sent to the MFC

PUBLIC, SIGNED_IN, SCOPED = "public", "signed_in", "scoped"


@dataclass(frozen=True)
class Page:
    """Who may open a GET route.

    kind:    PUBLIC (anyone, no sign-in), SIGNED_IN (any signed-in user), SCOPED (an item's page: users
             outside the item's visibility get exactly 404 and never its secret text).
    item:    the item kind in the URL (SCOPED), see ``World.items``.
    ok:      among those let in, who gets the page (None: all of them); the others get ``refused``.
    refused: the status of users let in but not in ``ok``.
    lists:   a list page: other departments' subjects must not appear in it.
    download: a file: 200, or (PDF without its renderer) a redirect back to the item's page.
    query:   extra query string variants checked too (list pages).
    """

    kind: str
    item: str | None = None
    ok: frozenset | None = None
    refused: int = 404
    lists: bool = False
    download: bool = False
    queries: tuple[str, ...] = ("",)


@dataclass(frozen=True)
class Form:
    """Who may act through a POST route.

    item:  the item kind in the URL (None: a creation form, state = number of rows of ``counts``).
    ok:    users who may act, per item name (``"*"`` for any item). Everyone else must be refused with
           the item unchanged; users who may not see the item get 404 (or a redirect whose message says
           it was not found, exactly as for an id that does not exist).
    data:  the form fields sent (besides the CSRF token).
    junk:  crafted values no page of ours sends: those refused are refused with them too, and those who
           may act get a refusal with a reason (test_crafted_values_are_refused_not_500), never a 500.
    """

    item: str | None
    ok: dict[str, frozenset]
    data: dict = field(default_factory=dict)
    upload: bool = False
    counts: str | None = None  # creation forms: the model whose row count must not change
    junk: dict = field(default_factory=dict)  # crafted values: refused like the rest, never a 500

    def may(self, who: str, item_name: str) -> bool:
        return who in self.ok.get(item_name, self.ok.get("*", NOBODY))


REQUEST_ACTORS_IT = {"*": IT_DEPT}  # the requester department (the admin is in it)
PAGES: dict[str, Page] = {
    "/login": Page(PUBLIC),
    "/ui/static/<path:filename>": Page(PUBLIC),
    "/public/programs/<slug>": Page(PUBLIC),
    "/": Page(SIGNED_IN, lists=True),
    "/workflows": Page(SIGNED_IN),
    "/programs": Page(SIGNED_IN),
    "/programs/<slug>": Page(SCOPED, item="program"),
    "/programs/<slug>/versions/<int:a>/diff/<int:b>": Page(SCOPED, item="program"),
    "/requests": Page(SIGNED_IN, lists=True, queries=("", "?box=in", "?box=out", "?q=Секрет", "?state=sent")),
    # The empty form is shown to everyone in the program (it names only the program's departments);
    # creating is refused by role on POST (see FORMS).
    "/requests/new": Page(SCOPED, item="program"),
    # The list as a file (CSV here: its text is checked like the page's): the caller's rows only.
    "/requests/export.<fmt>": Page(SIGNED_IN, lists=True, queries=("", "?box=in", "?q=Секрет", "?state=sent")),
    "/requests/<int:request_id>": Page(SCOPED, item="request"),
    "/requests/<int:request_id>/attachments/<int:attachment_id>": Page(SCOPED, item="attachment", download=True),
    "/reports": Page(SIGNED_IN, lists=True, queries=("", "?sort=-program", "?q=Секрет", "?overdue=1")),
    "/reports/<int:report_id>": Page(SCOPED, item="report"),
    "/reports/<int:report_id>.pdf": Page(SCOPED, item="report", download=True),
    "/reports/<int:report_id>.xlsx": Page(SCOPED, item="report", download=True),
    "/amendments": Page(SIGNED_IN, lists=True, queries=("", "?sort=-due", "?q=Секрет", "?state=draft&sort=number")),
    # The reports and amendments lists as files: the caller's rows only, like the pages.
    "/reports/export.<fmt>": Page(SIGNED_IN, lists=True, queries=("", "?sort=late", "?q=Секрет")),
    "/amendments/export.<fmt>": Page(SIGNED_IN, lists=True, queries=("", "?q=Секрет", "?state=draft")),
    "/reports/<int:report_id>/attachments/<int:attachment_id>": Page(SCOPED, item="report_file", download=True),
    "/amendments/<int:amendment_id>/attachments/<int:attachment_id>": Page(SCOPED, item="amendment_file",
                                                                          download=True),
    # The discipline report: everyone signed in, counted over what the caller may count; no subject of a
    # request the caller may not open, in the figures, the drill-down or the files.
    "/discipline": Page(SIGNED_IN),
    "/discipline/items": Page(SIGNED_IN, queries=("", "?figure=open", "?figure=overdue&department=mfc")),
    "/discipline.xlsx": Page(SIGNED_IN),
    "/discipline.pdf": Page(SIGNED_IN),
    # Only the executor department drafts amendments; the others find no program to amend (404).
    "/amendments/new": Page(SCOPED, item="program", ok=IT_DEPT, refused=404),
    "/amendments/<int:amendment_id>": Page(SCOPED, item="amendment"),
    # The editor shows the draft's cells, which every party sees on the amendment page; saving is refused
    # by role on POST (see FORMS).
    "/amendments/<int:amendment_id>/edit": Page(SCOPED, item="amendment"),
    # One's own profile (every email's footer links to /me/preferences): anyone signed in, own data only.
    "/me": Page(SIGNED_IN),
    "/me/preferences": Page(SIGNED_IN),
    "/admin": Page(SIGNED_IN, ok=ADMINS, refused=403),
    "/admin/users": Page(SIGNED_IN, ok=ADMINS, refused=403,
                         queries=("", "?q=victim", "?department=mfc&active=0", "?department=nope&active=zz")),
    "/admin/users/new": Page(SIGNED_IN, ok=ADMINS, refused=403),
    "/admin/users/<int:user_id>": Page(SIGNED_IN, ok=ADMINS, refused=403),
    "/admin/departments": Page(SIGNED_IN, ok=ADMINS, refused=403),
    "/admin/tokens": Page(SIGNED_IN, ok=ADMINS, refused=403, queries=("", "?user_id=1", "?user_id=²")),
    "/admin/mail": Page(SIGNED_IN, ok=ADMINS, refused=403, queries=("", "?state=failed", "?state=zz&recipient=x")),
    "/admin/audit": Page(SIGNED_IN, ok=ADMINS, refused=403,
                         queries=("", "?check=1", "?object_type=user&object_id=1&actor_id=1", "?actor_id=²")),
    # A live one-time link (the world issues one): anyone holding it may open the form.
    "/password/set/<token>": Page(PUBLIC),
}

FORMS: dict[str, Form] = {
    "/login": Form(None, {"*": EVERYONE}),  # checked in test_sign_in_needs_the_password_and_the_csrf_token
    "/logout": Form(None, {"*": EVERYONE}),  # checked in test_sign_out
    "/requests/new": Form(None, {"*": CREATORS}, counts="RequestThread", data={
        "program": SLUG, "subject": "Матрица: новый запрос", "addressees": "mfc", "working_days": "5",
        "send": "1"}, junk={"program": "nope", "subject": "x", "addressees": "culture", "working_days": "²",
                            "f-0-label": "x", "f-0-type": "zzz", "f-99999999999999999999-label": "y"}),
    "/requests/<int:request_id>/action": Form("request", REQUEST_ACTORS_IT, data={
        "event": "withdraw", "comment": "Матрица доступа."}, junk={
        "event": "delegate", "assignee_id": "²", "working_days": "99999999999999999999"}),
    "/requests/<int:request_id>/answer": Form("request", {"req_mfc": frozenset({"mfc", "mfc_staff"}),
                                                          "multi_mfc": frozenset({"mfc", "mfc_staff"}),
                                                          "req_fin": frozenset({"finance"}),
                                                          "multi_fin": frozenset({"finance"})},
                                              data={"text": "Ответ матрицы."}, junk={"text": "", "f_x": "²"}),
    # Parties of the request (by department) attach files; the admin is one only through its department.
    "/requests/<int:request_id>/attachments": Form("request", {
        "req_mfc": IT_DEPT | {"mfc", "mfc_staff"}, "multi_mfc": IT_DEPT | {"mfc", "mfc_staff"},
        "req_fin": IT_DEPT | {"finance"}, "multi_fin": IT_DEPT | {"finance"}}, upload=True),
    # The discussion: whoever sees the item through their own department writes (the admin through IT).
    "/requests/<int:request_id>/comments": Form("request", {
        "req_mfc": IT_DEPT | {"mfc", "mfc_staff"}, "multi_mfc": IT_DEPT | {"mfc", "mfc_staff"},
        "req_fin": IT_DEPT | {"finance"}, "multi_fin": IT_DEPT | {"finance"}},
        data={"body": "Матрица: комментарий.", "ref": "subject"}, junk={"body": "", "ref": "form[nope]"}),
    "/reports/<int:report_id>/comments": Form("report", {"*": PARTIES}, data={
        "body": "Матрица: к строке.", "ref": "indicators[I2]"}, junk={"body": "x", "ref": "indicators[I99]"}),
    "/reports/<int:report_id>/attachments": Form("report", {"*": PARTIES}, upload=True),
    "/amendments/<int:amendment_id>/comments": Form("amendment", {"*": PARTIES}, data={
        "body": "Матрица: к строке проекта.", "ref": "indicators[I3].targets[2017]"}, junk={
        "body": "   ", "ref": "financing[2099].city"}),
    "/amendments/<int:amendment_id>/attachments": Form("amendment", {"*": PARTIES}, upload=True),
    # start_collection: the executor role of the executor department only (not its admin).
    "/reports/<int:report_id>/action": Form("report", {"*": EXECUTORS}, data={"event": "start_collection"},
                                            junk={"event": "collection_complete"}),
    "/reports/<int:report_id>/inputs": Form("report", {"*": EXECUTORS}, data={"spent-city": "1,5"},
                                            junk={"spent-nope": "²", "act-x": "maybe", "actual-I1": "abc"}),
    "/amendments/new": Form(None, {"*": IT_DEPT}, counts="Amendment", data={
        "program": SLUG, "justification": "Матрица: новый проект.", "tgt-I3-2017": "14"}, junk={
        "program": "nope", "review_working_days": "²", "fin-2017-city": "abc"}),
    "/amendments/<int:amendment_id>/edit": Form("amendment", {"*": IT_DEPT}, data={
        "justification": "Матрица: правка.", "tgt-I3-2017": "15", "version": "1"}, junk={
        "justification": "", "version": "²", "tgt-I3-2017": "abc"}),
    "/amendments/<int:amendment_id>/action": Form("amendment", {"*": IT_DEPT},
                                                  data={"event": "submit_for_review"}, junk={
        "event": "adopt", "version": "²", "resolution_date": "не дата"}),
    # Following an item: whoever may see it (watchers.py); the others get its 404.
    **{f"/{segment}/<int:{param}>/{verb}": Form(kind, visible)
       for kind, segment, param, visible in (
           ("request", "requests", "request_id", {"req_mfc": SEES_MFC, "multi_mfc": SEES_MFC,
                                                  "req_fin": SEES_FIN, "multi_fin": SEES_FIN}),
           ("report", "reports", "report_id", {"report": PARTIES}),
           ("amendment", "amendments", "amendment_id", {"amendment": PARTIES}))
       for verb in ("follow", "unfollow")},
    # The profile's forms act on the caller's own settings only: checked in
    # test_profile_forms_change_only_the_callers_own_settings, not by item.
    "/me/password": Form(None, {"*": EVERYONE}),
    "/me/reminders": Form(None, {"*": EVERYONE}),
    "/me/calendar": Form(None, {"*": EVERYONE}),
    "/me/calendar/revoke": Form(None, {"*": EVERYONE}),
    "/me/tokens": Form(None, {"*": EVERYONE}),
    "/me/tokens/<int:token_id>/revoke": Form(None, {"*": EVERYONE}),
    # --- administration: the admin only ---
    "/admin/users/new": Form(None, {"*": ADMINS}, counts="User", data={
        "email": "matrix.new@kotovsk.example", "department": "finance", "roles": "finance", "send_link": "1"},
        junk={"email": "x", "department": "nope", "roles": "zz", "is_head": "²"}),
    "/admin/users/<int:user_id>": Form("user", {"*": ADMINS}, data={
        "name": "Жертва Матрицы", "department": "mfc", "roles": "co_executor"}, junk={
        "department": "nope", "roles": "zz"}),
    "/admin/users/<int:user_id>/password-link": Form("user", {"*": ADMINS}),
    "/admin/users/<int:user_id>/deactivate": Form("user", {"*": ADMINS}),
    "/admin/users/<int:user_id>/reactivate": Form("user", {"*": ADMINS}),
    "/admin/departments": Form(None, {"*": ADMINS}, counts="Department", data={
        "code": "matrix", "title": "Матрица"}, junk={"code": "НЕ КОД", "title": ""}),
    "/admin/tokens/<int:token_id>/revoke": Form("token", {"*": ADMINS}),
    "/admin/mail/<int:email_id>/retry": Form("email", {"*": ADMINS}),
    # Public: whoever holds the link; checked in tests/api/test_admin_pages.py.
    "/password/set/<token>": Form(None, {"*": EVERYONE}),
    # One's own saved list filters: anyone signed in, own filters only (another user's is 404);
    # checked in tests/api/test_saved_filters.py.
    "/<any(requests, reports, amendments):kind>/filters": Form(None, {"*": EVERYONE}),
    "/<any(requests, reports, amendments):kind>/filters/<int:filter_id>/delete": Form(None, {"*": EVERYONE}),
}
SELF_SERVICE = {p for p in FORMS if p.startswith("/me/")}
OWN_FILTERS = {p for p in FORMS if "/filters" in p}  # test_saved_filters_need_a_session_and_the_csrf_token
# forms with tests of their own (the password link: tests/api/test_admin_pages.py)
NOT_BY_ITEM = {"/login", "/logout", "/password/set/<token>"} | SELF_SERVICE | OWN_FILTERS
# Crafted query strings on pages (as a signed-in party): never a 500.
JUNK_QUERIES = ("/programs/<slug>/versions/1/diff/1?a=²&b=1", "/amendments/<int:amendment_id>?from=²&to=1",
                "/amendments/<int:amendment_id>?from=1&to=99999999999999999999", "/requests?page=²&state=zz&box=zz",
                "/requests/99999999999999999999", "/reports/99999999999999999999.pdf",
                "/requests/new?program=nope&working_days=²", "/amendments/new?program=nope")


def webui_routes(app) -> dict[str, set[str]]:
    """Rules served by the web UI's views (services.web.pages.*), by path, with their methods."""
    out: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if rule.endpoint.startswith("webui.") or getattr(view, "__module__", "").startswith("services.web.pages"):
            out.setdefault(rule.rule, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return out


def test_every_webui_route_is_declared(app):
    routes = webui_routes(app)
    declared = {("GET", p) for p in PAGES} | {("POST", p) for p in FORMS}
    served = {(m, p) for p, methods in routes.items() for m in methods}
    assert len(served) > 25, sorted(served)  # the enumeration itself found the blueprint
    undeclared = sorted(served - declared)
    stale = sorted(declared - served)
    assert not undeclared, f"web UI routes with no access rule in {__file__}: {undeclared}"
    assert not stale, f"rules for web UI routes that no longer exist: {stale}"


# --- the world ----------------------------------------------------------------------------------

@dataclass
class Item:
    name: str
    params: dict
    visible_to: frozenset
    secret: str | None = None


@dataclass
class World:
    items: dict[str, list[Item]]
    params: dict
    ids: dict[str, int]


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class Browser:
    """One person's cookie jar on the Flask test client, with the CSRF token of their session."""

    def __init__(self, app, who: str):
        self.who = who
        self.client = app.test_client()
        self.token = _csrf(self.client.get("/login").get_data(as_text=True))
        if who != ANON:
            r = self.client.post("/login", data={"email": EMAILS[who], "password": PASSWORD,
                                                 "csrf_token": self.token})
            assert r.status_code == 302 and r.headers["Location"] == "/", (who, r.status_code)
            # Signing in starts a fresh session (no fixation): the form token of the new session.
            self.token = _csrf(self.client.get("/").get_data(as_text=True))

    def get(self, url):
        return self.client.get(url)

    def post(self, url, data: dict, *, upload=False, csrf=True):
        data = dict(data)
        if csrf:
            data["csrf_token"] = self.token
        if upload:
            data["file"] = (io.BytesIO(b"%PDF-1.4 matrix"), "matrix.pdf", "application/pdf")
            return self.client.post(url, data=data, content_type="multipart/form-data")
        return self.client.post(url, data=data)

    def flashes(self) -> list[tuple[str, str]]:
        with self.client.session_transaction() as sess:
            return list(sess.pop("_flashes", []))


def _build_world(services, app) -> World:
    from services.models.base import utcnow
    from services.models.mail import OutgoingEmail
    from services.models.registry import ApiToken, User
    from services.people import demo_password_hash, issue_password_link, store_password_hash
    from services.registry import create_user, ensure_department
    from services.reports import run_schedule

    def outsider_row(uow):
        return uow.session.query(User).filter(User.email == EMAILS["outsider"]).one()

    tokens = seed(services)
    with services.uow() as uow:
        ensure_department(uow, "culture", "Управление культуры")
        outsider, _ = create_user(uow, email=EMAILS["outsider"], department="culture", roles=["executor"],
                                  name="Посторонний", is_head=True)
        store_password_hash(uow, outsider, demo_password_hash(PASSWORD))
        uow.commit()
    with services.uow() as uow:  # older seeds set no password
        for user in uow.session.query(User).filter(User.password_hash.is_(None)):
            store_password_hash(uow, user, demo_password_hash(PASSWORD))
        uow.commit()
    with services.uow() as uow:  # the administration pages' objects: a user, a token, a failed email
        victim, victim_token = create_user(uow, email="victim@kotovsk.example", department="mfc",
                                           roles=["co_executor"], name="Жертва")
        _, link = issue_password_link(uow, services, outsider_row(uow), send=False)
        token_row = uow.session.query(ApiToken).filter(ApiToken.user_id == victim.id).one()
        now = utcnow()
        failed = OutgoingEmail(dedupe_key="matrix:failed", message_id="<matrix@localhost>",
                               recipient="finance@kotovsk.example", subject="Матрица: письмо не ушло",
                               text_body="-", html_body="-", state="failed", attempts=9, next_attempt_at=now,
                               created_at=now, last_error="Матрица: SMTP недоступен")
        uow.session.add(failed)
        uow.commit()
        admin_ids = {"user_id": victim.id, "token_id": token_row.id, "email_id": failed.id,
                     "token": link.rsplit("/", 1)[1]}
    run_schedule(services, date(2017, 6, 1), backlog=True)
    client = app.test_client()

    def call(who, method, url, **kw):
        r = client.open(url, method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)
        assert r.status_code < 300, (who, method, url, r.get_json())
        return r.get_json()

    def new_request(to, subject):
        return call("it", "POST", "/api/v1/requests", json={
            "program": SLUG, "subject": subject, "body": subject, "addressees": [to], "send": True,
        })["requests"][0]["id"]

    def attach(rid):
        return call("it", "POST", f"/api/v1/requests/{rid}/attachments",
                    data={"file": (io.BytesIO(b"%PDF-1.4 " + str(rid).encode()), "a.pdf", "application/pdf")},
                    content_type="multipart/form-data")["id"]

    req_mfc = new_request("mfc", SUBJECT_MFC)
    req_fin = new_request("finance", SUBJECT_FIN)
    multi = call("it", "POST", "/api/v1/requests", json={
        "program": SLUG, "subject": "Общий запрос", "body": "-", "addressees": ["mfc", "finance"], "send": True,
    })["requests"]
    multi_mfc = next(r["id"] for r in multi if r["department"] == "mfc")
    multi_fin = next(r["id"] for r in multi if r["department"] == "finance")
    call("finance", "POST", f"/api/v1/requests/{multi_fin}/transitions",
         json={"event": "answer", "data": {"text": ANSWER_FIN}})
    att_mfc, att_fin = attach(req_mfc), attach(req_fin)
    amendment = call("it", "POST", "/api/v1/amendments", json={
        "program": SLUG, "justification": JUSTIFICATION,
        "changes": {"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}})["id"]
    reports = call("admin", "GET", f"/api/v1/reports?program={SLUG}")["items"]
    report = next(r["id"] for r in reports if r["state"] == "draft")

    def upload(plural, item_id, who):
        return call(who, "POST", f"/api/v1/{plural}/{item_id}/attachments",
                    data={"file": (io.BytesIO(b"%PDF-1.4 " + plural.encode()), "f.pdf", "application/pdf")},
                    content_type="multipart/form-data")["id"]

    report_file, amendment_file = upload("reports", report, "econ"), upload("amendments", amendment, "finance")

    sees_mfc, sees_fin = SEES_MFC, SEES_FIN
    items = {
        "request": [Item("req_mfc", {"request_id": req_mfc}, sees_mfc, SUBJECT_MFC),
                    Item("req_fin", {"request_id": req_fin}, sees_fin, SUBJECT_FIN),
                    # one thread, two addressees: each sees its own copy, never the other's answer
                    Item("multi_mfc", {"request_id": multi_mfc}, sees_mfc),
                    Item("multi_fin", {"request_id": multi_fin}, sees_fin, ANSWER_FIN),
                    Item("missing", {"request_id": 999_999}, NOBODY)],
        "attachment": [Item("att_mfc", {"request_id": req_mfc, "attachment_id": att_mfc}, sees_mfc, SUBJECT_MFC),
                       Item("att_fin", {"request_id": req_fin, "attachment_id": att_fin}, sees_fin, SUBJECT_FIN),
                       # another request's attachment under a request the caller may see
                       Item("att_cross", {"request_id": req_mfc, "attachment_id": att_fin}, NOBODY)],
        "report": [Item("report", {"report_id": report}, PARTIES), Item("missing", {"report_id": 999_999}, NOBODY)],
        # a file under its own item, and under the other kind's address (never found there)
        "report_file": [Item("report_file", {"report_id": report, "attachment_id": report_file}, PARTIES),
                        Item("report_file_cross", {"report_id": report, "attachment_id": amendment_file}, NOBODY)],
        "amendment_file": [
            Item("amendment_file", {"amendment_id": amendment, "attachment_id": amendment_file}, PARTIES),
            Item("amendment_file_cross", {"amendment_id": amendment, "attachment_id": report_file}, NOBODY)],
        "amendment": [Item("amendment", {"amendment_id": amendment}, PARTIES, JUSTIFICATION),
                      Item("missing", {"amendment_id": 999_999}, NOBODY)],
        "program": [Item("program", {"slug": SLUG}, PARTIES)],
        "user": [Item("victim", {"user_id": admin_ids["user_id"]}, EVERYONE)],
        "token": [Item("victim_token", {"token_id": admin_ids["token_id"]}, EVERYONE)],
        "email": [Item("failed_email", {"email_id": admin_ids["email_id"]}, EVERYONE)],
    }
    params = {"slug": SLUG, "a": 1, "b": 1, "filename": "webui/app.css", "fmt": "csv", "kind": "requests",
              "filter_id": 1, **admin_ids}
    return World(items=items, params=params,
                 ids={"req_mfc": req_mfc, "req_fin": req_fin, "report": report, "amendment": amendment})


def _url(rule: str, params: dict) -> str:
    return re.sub(r"<([^>]+)>", lambda m: str(params[m.group(1).split(":")[-1]]), rule)


def _items(world: World, kind: str | None) -> list[Item]:
    if kind is None:
        return [Item("-", dict(world.params), EVERYONE)]
    return [Item(i.name, {**world.params, **i.params}, i.visible_to, i.secret) for i in world.items[kind]]


def _secrets_hidden_from(world: World, who: str) -> list[str]:
    return sorted({i.secret for kind in world.items.values() for i in kind if i.secret and who not in i.visible_to})


def _secrets_shown_to(world: World, who: str) -> list[str]:
    return [i.secret for i in world.items["request"] if i.secret and who in i.visible_to
            and i.secret != ANSWER_FIN]


# --- the state of an item, before and after a refused post ---------------------------------------

def _row(obj) -> dict:
    from sqlalchemy import inspect

    return {a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs}


def _snapshot(services, form: Form, item: Item):
    """Everything a post could change about the item: its row, history, answers, attachments, inputs."""
    from sqlalchemy import func, select

    from services.models.amendments import Amendment
    from services.models.audit import AuditEntry
    from services.models.mail import OutgoingEmail
    from services.models.people import PasswordLink
    from services.models.registry import ApiToken, Department, IndicatorActual, User
    from services.models.reports import Report
    from services.models.requests import (
        Answer,
        Attachment,
        InformationRequest,
        RequestThread,
    )
    from services.models.workflow import TransitionRecord

    def count(model, *where):
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()

    with services.uow() as uow:
        s = uow.session
        common = (count(TransitionRecord), count(IndicatorActual))
        tail = (count(AuditEntry), count(OutgoingEmail))  # a refused post audits and emails nothing
        if form.item is None:
            model = {"RequestThread": RequestThread, "Amendment": Amendment, "User": User,
                     "Department": Department}[form.counts]
            return common + (count(model), count(InformationRequest)) + tail
        model, key = {"request": (InformationRequest, "request_id"), "report": (Report, "report_id"),
                      "amendment": (Amendment, "amendment_id"), "user": (User, "user_id"),
                      "token": (ApiToken, "token_id"), "email": (OutgoingEmail, "email_id")}[form.item]
        obj = s.get(model, item.params[key])
        if obj is None:
            return common + (None,) + tail
        extra = ()
        if model is InformationRequest:
            extra = (count(Answer, Answer.request_id == obj.id), count(Attachment, Attachment.request_id == obj.id))
        if model is User:
            extra = (count(PasswordLink, PasswordLink.user_id == obj.id),)
        return common + (_row(obj),) + extra + tail


# --- the matrix ---------------------------------------------------------------------------------

def _check_page(world: World, b: Browser, path: str, page: Page, failures: list[str]) -> int:
    checked = 0
    who = b.who
    for item in _items(world, page.item):
        for query in page.queries:
            url = _url(path, item.params) + query
            try:
                r = b.get(url)
            except Exception as exc:  # noqa: BLE001 - TESTING propagates what would be a 500
                failures.append(f"GET {url} as {who}: {type(exc).__name__}: {exc}")
                continue
            checked += 1
            status, where = r.status_code, f"GET {url} as {who}: {r.status_code}"
            body = r.get_data(as_text=True) if r.mimetype in ("text/html", "text/csv") else ""
            if status >= 500:
                failures.append(f"{where} — server error")
                continue
            for secret in _secrets_hidden_from(world, who):
                if secret in body:
                    failures.append(f"{where} — shows another department's «{secret}»")
            if path == "/login" and who != ANON:
                if status != 302 or r.headers.get("Location") != "/":
                    failures.append(f"{where} — a signed-in user at /login must be sent home")
                continue
            if page.kind == PUBLIC:
                if status != 200:
                    failures.append(f"{where} — a public page must be 200")
                continue
            if who == ANON:
                location = r.headers.get("Location", "")
                if status != 302 or not location.startswith("/login?next="):
                    failures.append(f"{where} — without a session a page must redirect to /login")
                continue
            if who not in item.visible_to:
                if status != 404:
                    failures.append(f"{where} — an item the caller may not see must be 404")
                continue
            expected = 200 if page.ok is None or who in page.ok else page.refused
            if page.download and expected == 200 and status == 302:
                if r.headers.get("Location") != _url("/reports/<int:report_id>", item.params):
                    failures.append(f"{where} — a download may only fall back to its item's page")
                continue
            if status != expected:
                failures.append(f"{where} — expected {expected}")
                continue
            if page.lists and url in ("/requests", "/requests/export.csv"):
                for secret in _secrets_shown_to(world, who):
                    if secret not in body:
                        failures.append(f"{where} — misses «{secret}», which the caller may see")
    return checked


def _refused(r, flashes: list, visible: bool) -> str | None:
    """None when the response is a refusal; else what is wrong with it."""
    if r.status_code >= 500:
        return "server error"
    errors = [m for c, m in flashes if c == "error"]
    if not visible:
        if r.status_code == 404:
            return None
        if r.status_code in (302, 303) and errors and all("не найден" in m for m in errors):
            return None  # the message an id that does not exist gets
        if r.status_code == 422 and not flashes:
            # The input boundary refuses a malformed form before any lookup, with the same answer for
            # every id, one that does not exist (999999, also in this matrix) included: no oracle.
            return None
        return f"an item the caller may not see must be 404, got {r.status_code} {flashes}"
    if r.status_code in (403, 404, 409, 422):
        return None
    if r.status_code in (302, 303) and errors and not any(c == "success" for c, _ in flashes):
        return None  # back to the page, with the reason
    return f"not refused: {r.status_code} {flashes}"


def _check_form(services, world: World, b: Browser, path: str, form: Form, failures: list[str]) -> int:
    checked = 0
    who = b.who
    for item in _items(world, form.item):
        if who != ANON and form.may(who, item.name):
            continue  # those who may act are checked once, in the positive control
        for data in (form.data, form.junk) if form.junk else (form.data,):
            checked += _post_refused(services, world, b, path, form, item, data, failures)
    return checked


def _post_refused(services, world: World, b: Browser, path: str, form: Form, item: Item, data: dict,
                  failures: list[str]) -> int:
    who = b.who
    url = _url(path, item.params)
    before = _snapshot(services, form, item)
    try:
        r = b.post(url, data, upload=form.upload)
    except Exception as exc:  # noqa: BLE001 - TESTING propagates what would be a 500
        failures.append(f"POST {url} {data} as {who}: {type(exc).__name__}: {exc}")
        return 0
    where = f"POST {url} {data if data is form.junk else ''}as {who}: {r.status_code}"
    body = r.get_data(as_text=True)
    flashes = b.flashes()
    for secret in _secrets_hidden_from(world, who if who != ANON else "outsider"):
        if secret in body or any(secret in m for _, m in flashes):
            failures.append(f"{where} — shows another department's «{secret}»")
    if who == ANON:
        if r.status_code != 302 or not r.headers.get("Location", "").startswith("/login"):
            failures.append(f"{where} — without a session a form must redirect to /login")
    else:
        # Creation forms of the program's items are 404 outside the program; the administration's
        # are the admin's alone, 403 for every other signed-in caller.
        visible = who in item.visible_to and (form.item is not None or who in PARTIES or path.startswith("/admin/"))
        problem = _refused(r, flashes, visible)
        if problem:
            failures.append(f"{where} — {problem}")
    if _snapshot(services, form, item) != before:
        failures.append(f"{where} — a refused post changed the item")
    return 1


def test_webui_access_matrix(services, app):
    world = _build_world(services, app)
    browsers = {who: Browser(app, who) for who in (ANON,) + USERS}
    failures: list[str] = []
    checked = 0
    routes = webui_routes(app)
    for path, page in PAGES.items():
        if "GET" not in routes.get(path, set()):
            continue
        for who, b in browsers.items():
            checked += _check_page(world, b, path, page, failures)
    for path, form in FORMS.items():
        if path in NOT_BY_ITEM or "POST" not in routes.get(path, set()):
            continue
        for who, b in browsers.items():
            checked += _check_form(services, world, b, path, form, failures)
    assert checked > 350, checked
    assert not failures, f"{len(failures)} access leaks or wrong answers:\n" + "\n".join(failures)

    # Without the CSRF token even those who may act are refused, and nothing changes.
    for path, form in FORMS.items():
        if path in NOT_BY_ITEM:
            continue
        item = next(i for i in _items(world, form.item) if any(form.may(w, i.name) for w in ("it", "mfc", "admin")))
        who = next(w for w in ("it", "mfc", "admin") if form.may(w, item.name))
        before = _snapshot(services, form, item)
        r = browsers[who].post(_url(path, item.params), form.data, upload=form.upload, csrf=False)
        assert r.status_code == 400, (path, who, r.status_code)
        assert _snapshot(services, form, item) == before, (path, who)

    # The positive control: the same posts by someone who may act do change the item, so the
    # "unchanged" check above can fail. Ordered so that no post makes a later one impossible.
    controls = [
        ("/requests/<int:request_id>/follow", "mfc_staff", "req_mfc"),
        ("/requests/<int:request_id>/unfollow", "mfc_staff", "req_mfc"),
        ("/reports/<int:report_id>/follow", "finance", "report"),
        ("/reports/<int:report_id>/unfollow", "finance", "report"),
        ("/amendments/<int:amendment_id>/follow", "econ", "amendment"),
        ("/amendments/<int:amendment_id>/unfollow", "econ", "amendment"),
        ("/requests/<int:request_id>/answer", "mfc_staff", "req_mfc"),
        ("/requests/<int:request_id>/attachments", "mfc", "req_mfc"),
        ("/requests/<int:request_id>/action", "it_staff", "req_fin"),
        ("/requests/<int:request_id>/comments", "mfc", "req_mfc"),
        ("/reports/<int:report_id>/comments", "mfc", "report"),
        ("/reports/<int:report_id>/attachments", "econ", "report"),
        ("/amendments/<int:amendment_id>/comments", "finance", "amendment"),
        ("/amendments/<int:amendment_id>/attachments", "econ", "amendment"),
        ("/reports/<int:report_id>/inputs", "it_staff", "report"),
        ("/reports/<int:report_id>/action", "it", "report"),
        ("/amendments/<int:amendment_id>/edit", "admin", "amendment"),
        ("/amendments/<int:amendment_id>/action", "it_staff", "amendment"),
        ("/amendments/new", "it", "-"),
        ("/requests/new", "econ", "-"),
        ("/admin/users/new", "admin", "-"),
        ("/admin/users/<int:user_id>", "admin", "victim"),
        ("/admin/users/<int:user_id>/password-link", "admin", "victim"),
        ("/admin/users/<int:user_id>/deactivate", "admin", "victim"),
        ("/admin/users/<int:user_id>/reactivate", "admin", "victim"),
        ("/admin/departments", "admin", "-"),
        ("/admin/tokens/<int:token_id>/revoke", "admin", "victim_token"),
        ("/admin/mail/<int:email_id>/retry", "admin", "failed_email"),
    ]
    assert {c[0] for c in controls} == set(FORMS) - NOT_BY_ITEM
    for path, who, name in controls:
        form = FORMS[path]
        assert form.may(who, name), (path, who, name)
        item = next(i for i in _items(world, form.item) if i.name == name)
        b = browsers[who]
        before = _snapshot(services, form, item)
        data = dict(form.data)
        if path.endswith("/edit"):
            data["version"] = str(before[2]["version"])
        r = b.post(_url(path, item.params), data, upload=form.upload)
        flashes = b.flashes()
        assert r.status_code in (302, 303), (path, who, r.status_code, r.get_data(as_text=True)[:800])
        assert not [m for c, m in flashes if c == "error"], (path, who, flashes)
        assert _snapshot(services, form, item) != before, (path, who, "a permitted post changed nothing")


def test_crafted_values_are_refused_not_500(services, app):
    """Those who may act, with values no form of ours sends: refused with a message, never a 500."""
    world = _build_world(services, app)
    failures: list[str] = []
    for who in ("it", "mfc", "finance", "econ", "admin"):
        b = Browser(app, who)
        for path in JUNK_QUERIES:
            url = _url(path, {**world.params, **world.items["amendment"][0].params})
            try:
                status = b.get(url).status_code
            except Exception as exc:  # noqa: BLE001
                failures.append(f"GET {url} as {who}: {type(exc).__name__}: {exc}")
                continue
            if status >= 500:
                failures.append(f"GET {url} as {who}: {status}")
        for path, form in FORMS.items():
            for item in _items(world, form.item):
                if not form.junk or not form.may(who, item.name):
                    continue
                url = _url(path, item.params)
                try:
                    r = b.post(url, form.junk, upload=form.upload)
                except Exception as exc:  # noqa: BLE001
                    failures.append(f"POST {url} {form.junk} as {who}: {type(exc).__name__}: {exc}")
                    continue
                flashes = b.flashes()
                if r.status_code >= 500 or (r.status_code < 400 and not [m for c, m in flashes if c == "error"]):
                    failures.append(f"POST {url} {form.junk} as {who}: {r.status_code} {flashes} — not refused")
    assert not failures, "\n".join(failures)


def test_list_pages_never_show_another_departments_subject(services, app):
    """The lists and the inbox, each request in the state its addressee must act on and after."""
    world = _build_world(services, app)
    browsers = {who: Browser(app, who) for who in USERS}
    lists = ["/", "/requests", "/requests?box=in", "/requests?box=out", "/requests?q=Секрет-ФИН",
             "/requests?q=Секрет-МФЦ", "/requests?state=sent", "/requests?overdue=1", "/amendments", "/reports"]

    def check(stage):
        for who, b in browsers.items():
            for url in lists:
                html = b.get(url).get_data(as_text=True)
                for secret in _secrets_hidden_from(world, who):
                    assert secret not in html, (stage, who, url, secret)
            home = b.get("/").get_data(as_text=True)
            for secret in _secrets_shown_to(world, who):
                # the inbox: the addressee must answer, the requester waits on it
                assert secret in home, (stage, who, secret)

    check("sent")
    # Answered: now on the requester's desk, and still nobody else's.
    for who, name in (("mfc", "req_mfc"), ("finance", "req_fin")):
        b = browsers[who]
        r = b.post(f"/requests/{world.ids[name]}/answer", {"text": "Ответ."})
        assert r.status_code == 302 and not [m for c, m in b.flashes() if c == "error"]
    for who, b in browsers.items():
        for url in lists:
            html = b.get(url).get_data(as_text=True)
            for secret in _secrets_hidden_from(world, who):
                assert secret not in html, ("answered", who, url, secret)


def test_sign_in_needs_the_password_and_the_csrf_token(services, app):
    seed(services)
    c = app.test_client()
    token = _csrf(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"email": EMAILS["it"], "password": PASSWORD})
    assert r.status_code == 400
    r = c.post("/login", data={"email": EMAILS["it"], "password": "wrong-password-1", "csrf_token": token})
    assert 400 <= r.status_code < 500
    assert c.get("/requests").status_code == 302
    r = c.post("/login", data={"email": EMAILS["it"], "password": PASSWORD, "csrf_token": token,
                               "next": "https://evil.example/"})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert c.get("/requests").status_code == 200


def test_sign_out(services, app):
    seed(services)
    b = Browser(app, "mfc")
    assert b.post("/logout", {}, csrf=False).status_code == 400  # a cross-site sign-out is refused too
    assert b.get("/requests").status_code == 200
    r = b.post("/logout", {})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert b.get("/requests").status_code == 302
    anon = Browser(app, ANON)
    r = anon.post("/logout", {})
    assert r.status_code == 302 and r.headers["Location"] == "/login"


def test_profile_forms_change_only_the_callers_own_settings(services, app):
    """Every user (the outsider too) acts on the profile's forms: only their own row, tokens and feed
    change; another's token is 404 as one that does not exist; anonymous callers and posts without
    the CSRF token are refused and change nothing."""
    from sqlalchemy import select

    from services.models.registry import ApiToken, User

    world = _build_world(services, app)
    assert world.ids
    assert set(SELF_SERVICE) == {p for p, methods in webui_routes(app).items()
                                 if p.startswith("/me/") and "POST" in methods}

    def state():
        with services.uow() as uow:
            users = {u.email: (u.password_hash, u.reminder_mode, u.calendar_token_hash)
                     for u in uow.session.execute(select(User)).scalars()}
            tokens = {t.id: (t.user_id, t.name, t.revoked_at) for t in uow.session.execute(select(ApiToken)).scalars()}
            return users, tokens

    def their_token(who: str) -> int:
        with services.uow() as uow:
            uid = uow.session.execute(select(User.id).where(User.email == EMAILS[who])).scalar_one()
            return uow.session.execute(select(ApiToken.id).where(ApiToken.user_id == uid)
                                       .order_by(ApiToken.id.desc())).scalars().first()

    forms = {"/me/reminders": {"reminder_mode": "single"}, "/me/calendar": {},
             "/me/tokens": {"token_name": "Матрица", "token_days": "7"}, "/me/calendar/revoke": {}}
    anon = Browser(app, ANON)
    before = state()
    for path in SELF_SERVICE:
        r = anon.post(_url(path, {"token_id": 1}), forms.get(path, {}))
        assert r.status_code == 302 and r.headers["Location"].startswith("/login"), path
    assert state() == before
    for who in USERS:
        b = Browser(app, who)
        for path, data in forms.items():
            before = state()
            assert b.post(path, data, csrf=False).status_code == 400, (who, path)
            assert state() == before, (who, path)
            r = b.post(path, data)
            assert r.status_code in (200, 302), (who, path, r.status_code)
            after = state()
            changed_users = {e for e in after[0] if after[0][e] != before[0].get(e)}
            assert changed_users <= {EMAILS[who]}, (who, path, changed_users)
            assert path == "/me/tokens" or after[1] == before[1], (who, path)
        # another's token: 404, nothing revoked
        other = "mfc" if who != "mfc" else "it"
        before = state()
        r = b.post(f"/me/tokens/{their_token(other)}/revoke", {})
        assert r.status_code == 404 and state() == before, (who, r.status_code)
        r = b.post("/me/tokens/999999/revoke", {})
        assert r.status_code == 404
        mine = their_token(who)
        assert b.post(f"/me/tokens/{mine}/revoke", {}).status_code == 302
        assert state()[1][mine][2] is not None
        r = b.post("/me/password", {"current_password": "wrong-password-1", "new_password": "x" * 12,
                                    "new_password_confirm": "x" * 12})
        assert r.status_code == 422 and state()[0][EMAILS[who]][0] == before[0][EMAILS[who]][0]


def test_saved_filters_need_a_session_and_the_csrf_token(services, app):
    """Saving and deleting a filter: without a session, to the sign-in page; without the CSRF token, 400;
    nothing stored either way (who may delete which filter: tests/api/test_saved_filters.py)."""
    from sqlalchemy import func, select

    from services.models.saved_filters import SavedFilter

    _build_world(services, app)

    def count() -> int:
        with services.uow() as uow:
            return uow.session.execute(select(func.count()).select_from(SavedFilter)).scalar_one()

    data = {"name": "Матрица", "query": "state=sent"}
    for kind in ("requests", "reports", "amendments"):
        for path in OWN_FILTERS:
            r = Browser(app, ANON).post(_url(path, {"kind": kind, "filter_id": 1}), data)
            assert r.status_code == 302 and r.headers["Location"].startswith("/login"), path
        assert Browser(app, "mfc").post(f"/{kind}/filters", data, csrf=False).status_code == 400
    assert count() == 0
    assert Browser(app, "mfc").post("/requests/filters", data).status_code == 302
    assert count() == 1
