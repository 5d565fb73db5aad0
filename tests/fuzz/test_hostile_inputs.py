"""Hostile input over every JSON endpoint, query parameter and web form, on SQLite and PostgreSQL.

The endpoints come from the app's url_map, so a new POST/PUT/PATCH route or form is attacked
without editing this file (a route with no hand-written base call gets one built from its
OpenAPI schema, or a field set of its own). Each base call is a valid call on a real object
of the seeded world (a sent request with a form of every type, a draft report, amendments as
draft and under review, users, tokens), so a hostile value replacing one of its values reaches
the logic. Every hostile call must get a 4xx (a JSON error from the API, the form page with the
reason from a web form), never a 5xx, and commit nothing (the whole database is compared).
Afterwards every stored item's API page, web page and exports still render, and a request with
an odd but valid subject has its emails delivered over SMTP (aiosmtpd).

Each case here failed on the main of 2026-12-02 before the fixes of the same commit.
"""
from __future__ import annotations

import copy
import dataclasses
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from email.header import decode_header, make_header
from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from services.models.saved_filters import SavedFilter

from tests.conftest import _truncate_all, make_services, make_settings, seed
from tests.fuzz.conftest import EMAILS, PASSWORD, Browser, set_demo_passwords
from tests.integration.conftest import SmtpSink

SLUG = "kotovsk-information-society"

RAW = "\u0000RAW:"  # a string leaf starting with this is written into the JSON text as is
MB = "я" * (1 << 20)
DEEP = "[" * 5000 + "]" * 5000
HUGE_INT = "9" * 5000
BAD_TEXT = ["\ud800", "\udfff", "ok \ud800 tail", "nul\x00", "esc\x1b[31m", "del\x7f", "bell\x07", MB, "я" * 250_000]
BAD_NUMBERS = [RAW + str(2 ** 63), RAW + str(10 ** 20), RAW + str(-(2 ** 63) - 1), RAW + HUGE_INT, RAW + DEEP,
               RAW + "NaN", RAW + "Infinity", RAW + "1e400"]
BAD_SHAPES = [["x"], {"x": "y"}, RAW + DEEP, RAW + HUGE_INT]
LINE_BREAKS = ["Тема\r\nBcc: evil@example.com", "a\nb", "a\rb"]
# Strings that may hold several lines; every other string is one line (a CR/LF there is refused).
MULTILINE = {"body", "comment", "text", "t", "justification", "note", "remarks", "section_text"}
NUMERIC = re.compile(r"[-+0-9.,:T ]*")
ODD_SUBJECT = 'Тема «ёлка» "кавычки" \'апостроф\' 😀 <script>alert(1)</script> & 100%'


# --- the world --------------------------------------------------------------------------------

@dataclass
class World:
    services: object
    app: object
    tokens: dict
    ids: dict
    smtp: SmtpSink
    browsers: dict = field(default_factory=dict)


def _api(world_app, tokens, who, method, url, **kw):
    r = world_app.test_client().open(url, method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)
    assert r.status_code < 300, (who, method, url, r.status_code, r.get_data(as_text=True)[:500])
    return r.get_json()


def _build(services, app, smtp) -> World:
    from services import people
    from services.models.registry import User
    from services.reports import run_schedule

    tokens = seed(services)
    set_demo_passwords(services)
    run_schedule(services, date(2017, 6, 1), backlog=True)

    def call(who, method, url, **kw):
        return _api(app, tokens, who, method, url, **kw)

    form = [{"key": "n", "label": "Целое", "type": "integer"}, {"key": "d", "label": "Число", "type": "decimal"},
            {"key": "t", "label": "Текст", "type": "text"}, {"key": "day", "label": "Дата", "type": "date"},
            {"key": "file", "label": "Файл", "type": "file", "required": False},
            {"key": "v", "label": "Посещений", "type": "integer", "indicator": "I2", "period": "2016",
             "required": False}]

    def new(subject, **extra):
        body = {"program": SLUG, "subject": subject, "body": "Текст запроса", "addressees": ["mfc"], "send": True,
                **extra}
        return call("it", "POST", "/api/v1/requests", json=body)["requests"][0]["id"]

    # The API cases and the web forms act on objects of their own (each ends with a valid call).
    ids = {"form": new("С формой", form=form), "text": new("Без формы"), "answered": new("Отвечен"),
           "form_web": new("С формой (веб)", form=form), "text_web": new("Без формы (веб)"),
           "draft": _api(app, tokens, "it", "POST", "/api/v1/requests", json={
               "program": SLUG, "subject": "Черновик", "addressees": ["mfc"]})["requests"][0]["id"]}
    call("mfc", "POST", f"/api/v1/requests/{ids['answered']}/transitions",
         json={"event": "answer", "data": {"text": "Ответ"}})
    ids["attachment"] = call("mfc", "POST", f"/api/v1/requests/{ids['form']}/attachments",
                             data={"file": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf", "application/pdf")},
                             content_type="multipart/form-data")["id"]
    ids["attachment_web"] = call("mfc", "POST", f"/api/v1/requests/{ids['form_web']}/attachments",
                                 data={"file": (io.BytesIO(b"%PDF-1.4 y"), "b.pdf", "application/pdf")},
                                 content_type="multipart/form-data")["id"]
    reports = call("admin", "GET", f"/api/v1/reports?program={SLUG}")["items"]
    drafts = [r["id"] for r in reports if r["state"] == "draft"]
    ids["report"], ids["report_web"] = drafts[0], drafts[-1]
    change = {"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}],
              "financing": [{"year": 2017, "source": "city", "amount": "1"}]}
    ids["amendment"] = call("it", "POST", "/api/v1/amendments", json={
        "program": SLUG, "justification": "Черновик изменений", "changes": change})["id"]
    review = call("it", "POST", "/api/v1/amendments", json={
        "program": SLUG, "justification": "На согласовании", "changes": change})["id"]
    call("it", "POST", f"/api/v1/amendments/{review}/transitions", json={"event": "submit_for_review"})
    ids["review"] = review
    ids["amendment_web"] = call("it", "POST", "/api/v1/amendments", json={
        "program": SLUG, "justification": "Черновик (веб)", "changes": change})["id"]
    review = call("it", "POST", "/api/v1/amendments", json={
        "program": SLUG, "justification": "На согласовании (веб)", "changes": change})["id"]
    call("it", "POST", f"/api/v1/amendments/{review}/transitions", json={"event": "submit_for_review"})
    ids["review_web"] = review
    with services.uow() as uow:
        users = {u.email: u.id for u in uow.session.execute(select(User)).scalars()}
    ids["mfc_staff"] = users["mfc.staff@kotovsk.example"]
    ids["token"] = call("it_staff", "POST", "/api/v1/me/tokens", json={"name": "запасной"})["id"]
    ids["calendar"] = call("it", "POST", "/api/v1/me/calendar-token")["token"]
    ids["own_token"] = call("it", "POST", "/api/v1/me/tokens", json={"name": "для веб-формы"})["id"]
    with services.uow() as uow:  # a saved list filter for the delete form
        row = SavedFilter(user_id=users["it@kotovsk.example"], list_kind="requests", name="Удаляемый",
                          query="state=sent")
        uow.session.add(row)
        uow.commit()
        ids["saved_filter"] = row.id
    # People the administration and profile forms act on, so no form disables a caller of another.
    for who in ("spare", "spare2", "self", "linked"):
        ids[who] = call("admin", "POST", "/api/v1/admin/users", json={
            "email": EMAILS[who], "name": f"Сотрудник {who}", "department": "mfc", "roles": ["co_executor"],
            "password": None if who == "linked" else PASSWORD})["id"]
    with services.uow() as uow:
        _, url = people.issue_password_link(uow, services, uow.session.get(User, ids["linked"]), send=False)
        uow.commit()
    ids["link"] = url.rsplit("/", 1)[-1]
    # A failed email for the retry routes (it is sent when the valid retry runs).
    with services.engine.begin() as conn:
        ids["failed_email"] = conn.execute(text("SELECT min(id) FROM outgoing_emails")).scalar_one()
        conn.execute(text("UPDATE outgoing_emails SET state = 'failed', last_error = 'отказ сервера' "
                          "WHERE id = :id"), {"id": ids["failed_email"]})
    return World(services, app, tokens, ids, smtp)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    from services.web.app import create_app

    smtp = SmtpSink().start()
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)}
    if request.param == "sqlite":
        services = make_services(make_settings(tmp, **env))
    else:
        url = request.getfixturevalue("pg_url")
        _truncate_all(url)
        services = make_services(make_settings(tmp, url, **env))
    app = create_app(services=services, test_config={"TESTING": True})
    w = _build(services, app, smtp)
    for who in ("it", "mfc", "econ", "admin", "self"):
        w.browsers[who] = Browser(app, who)
    yield w
    services.dispose()
    smtp.stop()


# --- what the database holds ---------------------------------------------------------------------

# "Last used" clocks that any signed-in request moves (at most once a minute or an hour), whatever it
# sends: not something the hostile input stored.
CLOCKS = {("web_sessions", "last_seen_at"), ("api_tokens", "last_used_at")}


def snapshot(services) -> dict:
    """Every row of every table (the audit chain, the outbox and mail included)."""
    from services.models.all import Base

    out = {}
    with services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in CLOCKS]
            rows = conn.execute(select(*columns)).all()
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
    return out


def fingerprint(services) -> tuple:
    """Cheap per call: what every committed change adds to."""
    with services.engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM transitions), "
            "(SELECT count(*) FROM outbox), (SELECT count(*) FROM request_answers), "
            "(SELECT count(*) FROM request_threads), (SELECT count(*) FROM amendments), "
            "(SELECT count(*) FROM users), (SELECT count(*) FROM departments), (SELECT count(*) FROM api_tokens)"
        )).one())


def diff(before: dict, after: dict) -> list[str]:
    return [f"{name}: {len(before[name])} -> {len(after[name])} rows, changed: "
            f"{sorted(set(after[name]) - set(before[name]))[:2]}"
            for name in before if before[name] != after[name]]


# --- the JSON API ------------------------------------------------------------------------------

@dataclass
class Call:
    who: str
    params: dict
    body: object = None


def api_bases(w: World) -> dict[tuple[str, str], list[Call]]:
    """A valid call per route, on a real object; hostile values replace its values one by one."""
    ids = w.ids
    form_answer = {"n": 5, "d": "1.5", "t": "текст\nв две строки", "day": "2017-01-31", "file": ids["attachment"],
                   "v": 7}
    change = {"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "13"}],
              "financing": [{"year": 2017, "source": "city", "amount": "2"}],
              "sections": [{"op": "change", "key": "2", "text": "Новый текст"}]}
    r, a = "/api/v1/requests", "/api/v1/amendments"
    return {
        ("POST", r): [Call("it", {}, {"program": SLUG, "subject": "Тема", "body": "Текст", "addressees": ["mfc"],
                                      "working_days": 5, "send": True,
                                      "form": [{"key": "k", "label": "Подпись", "type": "integer",
                                                "required": True, "indicator": "I2", "period": "2016"}]})],
        ("POST", r + "/<int:request_id>/transitions"): [
            Call("mfc", {"request_id": ids["form"]}, {"event": "answer", "comment": "к", "data": form_answer}),
            Call("mfc", {"request_id": ids["text"]}, {"event": "delegate", "assignee_id": ids["mfc_staff"]}),
            Call("it", {"request_id": ids["text"]}, {"event": "extend_deadline", "working_days": 3, "comment": "к"}),
            Call("it", {"request_id": ids["answered"]}, {"event": "request_clarification", "comment": "уточните"}),
        ],
        ("PUT", "/api/v1/reports/<int:report_id>/inputs"): [Call("it", {"report_id": ids["report"]}, {
            "spent": {"city": "1.5"}, "activities": {"A1": True}, "actuals": {"I1": "10"}})],
        ("POST", "/api/v1/reports/<int:report_id>/transitions"): [Call("it", {"report_id": ids["report"]}, {
            "event": "start_collection", "comment": "к"})],
        ("POST", a): [Call("it", {}, {"program": SLUG, "justification": "Обоснование", "changes": change,
                                      "base_version": 1, "review_working_days": 5})],
        ("PUT", a + "/<int:amendment_id>"): [Call("it", {"amendment_id": ids["amendment"]}, {
            "justification": "Правка", "changes": change, "comment": "к", "version": 1})],
        ("POST", a + "/<int:amendment_id>/transitions"): [Call("econ", {"amendment_id": ids["review"]}, {
            "event": "return", "comment": "к", "data": {"remarks": "замечания"}})],
        ("POST", a + "/<int:amendment_id>/rebase"): [Call("it", {"amendment_id": ids["amendment"]})],
        ("POST", r + "/<int:request_id>/comments"): [Call("mfc", {"request_id": ids["text"]}, {
            "body": "Комментарий\nв две строки", "ref": "subject"})],
        ("POST", "/api/v1/reports/<int:report_id>/comments"): [Call("econ", {"report_id": ids["report"]}, {
            "body": "К ячейке", "ref": "indicators[I2].fact"})],
        ("POST", a + "/<int:amendment_id>/comments"): [Call("finance", {"amendment_id": ids["amendment"]}, {
            "body": "К строке проекта", "ref": "financing[2017].city"})],
        ("POST", "/api/v1/admin/departments"): [Call("admin", {}, {"code": "new-dept", "name": "Новый отдел"})],
        ("POST", "/api/v1/admin/users"): [Call("admin", {}, {
            "email": "new@kotovsk.example", "name": "Новый", "department": "mfc", "roles": ["co_executor"],
            "is_head": False, "password": "long-password-123"})],
        ("PATCH", "/api/v1/admin/users/<int:user_id>"): [Call("admin", {"user_id": ids["mfc_staff"]}, {
            "name": "Сотрудник", "department": "mfc", "roles": ["co_executor"], "is_head": False})],
        ("POST", "/api/v1/admin/users/<int:user_id>/password"): [Call("admin", {"user_id": ids["mfc_staff"]}, {
            "password": "another-password-1"})],
        ("POST", "/api/v1/me/tokens"): [Call("it", {}, {"name": "скрипт", "expires_in_days": 30})],
        ("PUT", "/api/v1/me/preferences"): [Call("it", {}, {"reminder_mode": "single"})],
    }


GENERIC_PARAMS = {"request_id": "text", "report_id": "report", "amendment_id": "amendment", "user_id": "mfc_staff",
                  "token_id": "token", "email_id": "failed_email"}


def _from_schema(schema: dict, spec: dict):
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: _from_schema(v, spec) for k, v in (schema.get("properties") or {}).items()}
    return {"string": schema.get("enum", ["x"])[0], "integer": 1, "number": 1, "boolean": True,
            "array": []}.get(kind, "x")


def api_routes(app) -> list[tuple[str, str]]:
    return sorted((m, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
                  for m in rule.methods & {"POST", "PUT", "PATCH"})


def _url(rule: str, params: dict) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(params[m.group(1)]), rule)


def _calls_for(w: World, method: str, rule: str, spec: dict) -> list[Call]:
    known = api_bases(w).get((method, rule))
    if known:
        return known
    params = {name: w.ids[key] for name, key in GENERIC_PARAMS.items()} | {"slug": SLUG}
    body = None
    operation = spec["paths"].get(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule), {}).get(method.lower(), {})
    content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
    if content:
        body = _from_schema(content["schema"], spec)
    return [Call("admin" if "/admin/" in rule else "it", params, body)]


def _dump(body) -> str:
    raws = []

    def mark(value):
        if isinstance(value, str) and value.startswith(RAW):
            raws.append(value[len(RAW):])
            return f"\u0001{len(raws) - 1}\u0001"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    out = json.dumps(mark(body), ensure_ascii=False)  # a 250,000-letter value stays under the size bound
    out = re.sub("[\ud800-\udfff]", lambda m: "\\u%04x" % ord(m.group()), out)  # sent as the escape
    return re.sub(r'"\\u0001(\d+)\\u0001"', lambda m: raws[int(m.group(1))], out)


def _leaves(value, path=()):
    """Every position in a body: (path, value), containers too."""
    if path:
        yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from _leaves(v, path + (n,))


def _replace(body, path, value):
    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def hostile_bodies(body) -> list[tuple[str, str]]:
    """(what, JSON text): the whole body replaced, then each value."""
    cases = [("deep body", DEEP), ("huge int body", HUGE_INT), ("1 MB string body", json.dumps(MB)),
             ("surrogate body", '"\\ud800"'), ("NUL body", '{"a": "\\u0000"}')]
    if not isinstance(body, dict):
        return cases  # a route that takes no body may ignore a harmless one, never a hostile one
    cases.append(("list body", "[1, 2]"))
    for path, value in _leaves(body):
        where = ".".join(map(str, path))
        if isinstance(value, str):
            values = BAD_TEXT + BAD_SHAPES
            if path[-1] not in MULTILINE and not NUMERIC.fullmatch(value):
                values = values + LINE_BREAKS
        elif isinstance(value, bool):
            values = [RAW + DEEP, "\ud800"]
        elif isinstance(value, int):
            values = BAD_NUMBERS + ["\ud800", ["1"]]
        else:
            values = [RAW + DEEP, RAW + HUGE_INT, "\ud800", MB]
        cases += [(f"{where}={str(v)[:24]!r}", _dump(_replace(body, path, v))) for v in values]
        if isinstance(path[-1], str):  # a hostile key beside it
            cases.append((f"{where} key", _dump(_replace(body, path[:-1] + ("\ud800",), value))))
    return cases


def _is_json_error(r) -> bool:
    try:
        return isinstance(r.get_json()["error"]["message"], str)
    except (TypeError, KeyError, ValueError):
        return False


def test_every_json_endpoint_refuses_hostile_bodies_and_commits_nothing(world):
    spec = world.app.test_client().get("/openapi.json").get_json()
    client = world.app.test_client()
    failures, tried = [], 0
    routes = api_routes(world.app)
    assert len(routes) >= 18, routes  # the enumeration found them
    for who, token in world.tokens.items():  # a token's first use of the hour is written; not by these calls
        client.get("/api/v1/me/preferences", headers={"Authorization": f"Bearer {token}"})
    for method, rule in routes:
        for call in _calls_for(world, method, rule, spec):
            url = _url(rule, call.params)
            headers = {"Authorization": f"Bearer {world.tokens[call.who]}"}
            before, print_before = snapshot(world.services), fingerprint(world.services)
            for what, body in hostile_bodies(call.body):
                r = client.open(url, method=method, data=body.encode("utf-8", "surrogatepass"),
                                content_type="application/json", headers=headers)
                tried += 1
                where = f"{method} {url} as {call.who}, {what}: {r.status_code}"
                if not 400 <= r.status_code < 500 or not _is_json_error(r):
                    failures.append(f"{where} {r.get_data(as_text=True)[:200]}")
                if fingerprint(world.services) != print_before:
                    failures.append(f"{where} — committed")
                    print_before = fingerprint(world.services)
            changed = diff(before, snapshot(world.services))
            if changed:
                failures.append(f"{method} {url}: hostile calls changed the database: {changed}")
            # The base call itself is accepted, so the hostile values above reached the logic.
            if call.body is not None and (method, rule) in api_bases(world):
                r = client.open(url, method=method, json=call.body, headers=headers)
                if r.status_code >= 300:
                    failures.append(f"{method} {url} base call refused: {r.status_code} "
                                    f"{r.get_data(as_text=True)[:300]}")
    assert tried > 1000, tried
    assert not failures, f"{len(failures)} of {tried}:\n" + "\n".join(failures[:60])


def test_every_query_parameter_refuses_hostile_values(world):
    """Each GET route's documented query parameters (and an undocumented one) with each hostile value."""
    spec = world.app.test_client().get("/openapi.json").get_json()
    client = world.app.test_client()
    values = ["%ED%A0%80", "%00", "%1B", "a%0D%0Ab", str(2 ** 63), str(10 ** 20), "9" * 5000, "-" + "9" * 5000,
              quote("я" * 20000)]
    params = {name: world.ids[key] for name, key in GENERIC_PARAMS.items()} | {"slug": SLUG, "a": 1, "b": 1,
                                                                                 "number": 1, "object_type": "x",
                                                                                 "object_id": "1"}
    failures, tried = [], 0
    before = snapshot(world.services)
    for path, methods in spec["paths"].items():
        if "get" not in methods:
            continue
        names = [p["name"] for p in methods["get"].get("parameters", []) if p.get("in") == "query"] + ["zz"]
        url = re.sub(r"{([^}]+)}", lambda m: str(params.get(m.group(1), 1)), path)
        for name in names:
            for value in values:
                r = client.get(f"{url}?{name}={value}", headers={"Authorization": f"Bearer {world.tokens['admin']}"})
                tried += 1
                if r.status_code >= 500:
                    failures.append(f"GET {url}?{name}={value[:30]}: {r.status_code}")
    # The web pages' query strings too.
    b = world.browsers["it"]
    for url in ("/requests", "/reports", "/amendments", "/programs", "/", "/requests/new", "/discipline",
                "/discipline/items", "/discipline.xlsx",
                f"/amendments/{world.ids['amendment']}", f"/programs/{SLUG}/versions/1/diff/1"):
        for name in ("q", "page", "state", "program", "from", "to", "a", "b", "working_days", "box", "department",
                     "figure", "month"):
            for value in values:
                r = b.client.get(f"{url}?{name}={value}")
                tried += 1
                if r.status_code >= 500:
                    failures.append(f"GET {url}?{name}={value[:30]}: {r.status_code}")
    changed = diff(before, snapshot(world.services))
    assert not changed, changed
    assert tried > 500, tried
    assert not failures, "\n".join(failures[:60])


@pytest.mark.parametrize("query", ["thread=9223372036854775808", "thread=%s" % (10 ** 20), "page=%s" % (10 ** 18)])
def test_numbers_no_column_holds_in_a_query_are_4xx_on_both_databases(world, query):
    for url in ("/api/v1/requests", "/api/v1/admin/users", "/api/v1/admin/tokens"):
        r = world.app.test_client().get(f"{url}?{query}&user_id={query.split('=')[1]}",
                                        headers={"Authorization": f"Bearer {world.tokens['admin']}"})
        assert 400 <= r.status_code < 500, (url, query, r.status_code)


# --- the web forms ------------------------------------------------------------------------------

def form_bases(w: World) -> dict[str, tuple[str, dict, dict]]:
    """Each web form route: who, the path's ids, a valid form."""
    from services.models.amendments import Amendment

    ids = w.ids
    with w.services.uow() as uow:
        version = {key: str(uow.session.get(Amendment, ids[key]).version) for key in ("amendment_web", "review_web")}
    return {
        "/requests/new": ("it", {}, {"program": SLUG, "subject": "Тема", "body": "Текст", "addressees": "mfc",
                                     "working_days": "5", "send": "1", "f-0-label": "Подпись", "f-0-type": "integer",
                                     "f-0-required": "on", "f-0-indicator": "I2", "f-0-period": "2016",
                                     "f-0-key": "k"}),
        "/requests/<int:request_id>/answer": ("mfc", {"request_id": ids["form_web"]}, {
            "f_n": "5", "f_d": "1,5", "f_t": "текст", "f_day": "2017-01-31", "f_file": str(ids["attachment_web"]),
            "f_v": "7", "comment": "к"}),
        "/requests/<int:request_id>/action": ("mfc", {"request_id": ids["text_web"]}, {
            "event": "delegate", "assignee_id": str(ids["mfc_staff"]), "comment": "к"}),
        "/reports/<int:report_id>/inputs": ("it", {"report_id": ids["report_web"]}, {
            "spent-city": "1,5", "act-A1": "yes", "actual-I1": "10"}),
        "/reports/<int:report_id>/action": ("it", {"report_id": ids["report_web"]}, {
            "event": "start_collection", "comment": "к", "note": "записка"}),
        "/amendments/new": ("it", {}, {"program": SLUG, "justification": "Обоснование", "tgt-I3-2017": "14",
                                       "fin-2017-city": "3", "review_working_days": "5"}),
        "/amendments/<int:amendment_id>/edit": ("it", {"amendment_id": ids["amendment_web"]}, {
            "justification": "Правка", "tgt-I3-2017": "15", "version": version["amendment_web"], "comment": "к",
            "section_key": "2", "section_text": "Новый текст"}),
        "/amendments/<int:amendment_id>/action": ("econ", {"amendment_id": ids["review_web"]}, {
            "event": "return", "remarks": "замечания", "comment": "к", "version": version["review_web"]}),
        # following an item (the form is its CSRF token only: the hostile cases are stray fields)
        **{f"/{segment}/<int:{param}>/{verb}": (who, {param: ids[key]}, {})
           for segment, param, who, key in (("requests", "request_id", "mfc", "text_web"),
                                            ("reports", "report_id", "it", "report_web"),
                                            ("amendments", "amendment_id", "econ", "review_web"))
           for verb in ("follow", "unfollow")},
        "/requests/<int:request_id>/comments": ("mfc", {"request_id": ids["text_web"]}, {
            "body": "Комментарий\nв две строки", "ref": "subject"}),
        "/reports/<int:report_id>/comments": ("it", {"report_id": ids["report_web"]}, {
            "body": "К строке", "ref": "financing[city].spent"}),
        "/amendments/<int:amendment_id>/comments": ("econ", {"amendment_id": ids["review_web"]}, {
            "body": "К строке проекта", "ref": "indicators[I3].targets[2017]"}),
        # administration (each on a person of its own: see _build)
        "/admin/users/new": ("admin", {}, {"email": "web.new@kotovsk.example", "name": "Новый сотрудник",
                                           "department": "mfc", "roles": "co_executor", "send_link": "1"}),
        "/admin/users/<int:user_id>": ("admin", {"user_id": ids["spare"]}, {
            "name": "Сотрудник МФЦ", "department": "mfc", "roles": "co_executor", "is_head": "1"}),
        "/admin/users/<int:user_id>/password-link": ("admin", {"user_id": ids["spare"]}, {}),
        "/admin/users/<int:user_id>/deactivate": ("admin", {"user_id": ids["spare2"]}, {}),
        "/admin/users/<int:user_id>/reactivate": ("admin", {"user_id": ids["spare2"]}, {}),
        "/admin/departments": ("admin", {}, {"code": "archive", "title": "Архивный отдел"}),
        "/admin/tokens/<int:token_id>/revoke": ("admin", {"token_id": ids["token"]}, {}),
        "/admin/mail/<int:email_id>/retry": ("admin", {"email_id": ids["failed_email"]}, {}),
        # the profile page
        "/me/password": ("self", {}, {"current_password": PASSWORD, "new_password": "another-password-2",
                                      "new_password_confirm": "another-password-2"}),
        "/me/reminders": ("it", {}, {"reminder_mode": "digest"}),
        "/me/calendar": ("self", {}, {}),  # "it"'s own feed link is fetched at the end
        "/me/calendar/revoke": ("self", {}, {}),
        "/me/tokens": ("it", {}, {"token_name": "веб-скрипт", "token_days": "30"}),
        "/me/tokens/<int:token_id>/revoke": ("it", {"token_id": ids["own_token"]}, {}),
        # saved list filters (one's own)
        "/<any(requests, reports, amendments):kind>/filters": ("it", {"kind": "requests"}, {
            "name": "Мой отбор", "query": "state=sent&sort=-due"}),
        "/<any(requests, reports, amendments):kind>/filters/<int:filter_id>/delete": ("it", {
            "kind": "requests", "filter_id": ids["saved_filter"]}, {}),
        # the one-time password link: public; it signs the browser in as the link's person, so the last
        # browser to use ("self") goes there
        "/password/set/<token>": ("self", {"token": ids["link"]}, {"password": "linked-password-3",
                                                                  "password_repeat": "linked-password-3"}),
    }


FORM_NUMBERS = {"working_days", "assignee_id", "version", "review_working_days", "f_n", "f_file", "f_v", "token_days"}
FORM_LINES = {"subject", "f-0-label", "program", "addressees", "event", "resolution_number", "f-0-key", "email", "ref",
              "name", "department", "roles", "code", "title", "current_password", "new_password",
              "new_password_confirm", "reminder_mode", "token_name", "password", "password_repeat", "query"}


def hostile_forms(data: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    cases = []
    for name in data:
        values = ["nul\x00", "esc\x1b", "del\x7f", "\ud800", "x" * (1 << 20)]
        if name in FORM_LINES:
            values += LINE_BREAKS
        if name in FORM_NUMBERS:
            values += [str(2 ** 63), str(10 ** 20), "9" * 5000, "٣" * 5000, "-" + "9" * 30]
        for v in values:
            pairs = [(k, v if k == name else old) for k, old in data.items()]
            cases.append((f"{name}={v[:20]!r}", pairs))
        cases.append((f"{name} twice", list(data.items()) + [(name, "nul\x00")]))
    pairs = list(data.items())
    cases += [("row 5000 digits", pairs + [(f"f-{'9' * 5000}-label", "x")]),
              ("row 20 digits", pairs + [("f-99999999999999999999-label", "x")]),
              ("nul in a name", pairs + [("sub\x00ject", "x")]),
              ("long name", pairs + [("x" * 5000, "x")])]
    return cases


# Forms whose valid answer is the page showing a new secret once, and what marks it there.
SHOWN_ONCE = {"/me/calendar": "Ссылка создана.", "/me/tokens": "id=\"new-token\""}


def webui_form_routes(app) -> list[str]:
    return sorted(rule.rule for rule in app.url_map.iter_rules()
                  if rule.endpoint.startswith("webui.") and "POST" in rule.methods
                  and rule.rule not in ("/login", "/logout", "/requests/<int:request_id>/attachments",
                                        "/reports/<int:report_id>/attachments",
                                        "/amendments/<int:amendment_id>/attachments"))


def test_every_web_form_refuses_hostile_fields_with_the_form_and_commits_nothing(world):
    failures, tried = [], 0
    bases = form_bases(world)
    routes = webui_form_routes(world.app)
    assert set(routes) <= set(bases), f"web forms with no base form here: {sorted(set(routes) - set(bases))}"
    for rule in routes:
        who, params, data = bases[rule]
        b = world.browsers[who]
        url = _url(rule, params)
        before, print_before = snapshot(world.services), fingerprint(world.services)
        for what, pairs in hostile_forms(data):
            r = b.post_raw(url, pairs)
            tried += 1
            html = r.get_data(as_text=True)
            flashes = b.flashes()
            where = f"POST {url} as {who}, {what}: {r.status_code}"
            # A program that is not one has no form to show again: its 404 page says so.
            if r.status_code not in (400, 422) and not (r.status_code == 404 and what.startswith("program=")):
                failures.append(f"{where} {flashes} {html[:200]}")
            elif not re.search("[А-Яа-я]", html):
                failures.append(f"{where}: no reason in Russian")
            if fingerprint(world.services) != print_before:
                failures.append(f"{where} — committed")
                print_before = fingerprint(world.services)
        changed = diff(before, snapshot(world.services))
        if changed:
            failures.append(f"POST {url}: hostile forms changed the database: {changed}")
        r = b.post_raw(url, list(data.items()))  # the base form is accepted: the cases reached the logic
        errors = [m for c, m in b.flashes() if c == "error"]
        # A form that makes a secret shows it once, in its own answer (200), instead of redirecting.
        accepted = (r.status_code == 200 and SHOWN_ONCE[rule] in r.get_data(as_text=True)
                    if rule in SHOWN_ONCE else r.status_code == 302)
        if not accepted or errors:
            failures.append(f"POST {url} base form refused: {r.status_code} {errors} "
                            f"{r.get_data(as_text=True)[:300] if r.status_code != 302 else ''}")
    assert tried > 300, tried
    assert not failures, f"{len(failures)} of {tried}:\n" + "\n".join(failures[:60])


def test_a_form_refusal_is_shown_at_its_field(world):
    b = world.browsers["it"]
    data = dict(form_bases(world)["/requests/new"][2], subject="x" * 501)
    before = fingerprint(world.services)
    r = b.post_raw("/requests/new", list(data.items()))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'aria-describedby="err-subject"' in html and "Не длиннее 500 символов." in html
    data = dict(form_bases(world)["/requests/new"][2], **{"f-0-label": "a\r\nb"})
    r = b.post_raw("/requests/new", list(data.items()))
    assert r.status_code == 422 and 'aria-describedby="err-f-0-label"' in r.get_data(as_text=True)
    assert fingerprint(world.services) == before


def test_a_long_forwarded_for_or_user_agent_is_no_500(world):
    from services.models.audit import AuditEntry

    from services.web.app import create_app

    headers = {"Authorization": f"Bearer {world.tokens['it']}", "X-Forwarded-For": "1" * 5000 + ", 10.0.0.1",
               "User-Agent": "я" * 100000}
    # Behind two trusted proxies the client's (first) address is believed, cut to what the column holds;
    # with the default none the header is ignored and the socket's address is recorded.
    settings = world.services.settings
    world.services.settings = dataclasses.replace(settings, trusted_proxies=2)
    try:
        proxied = create_app(services=world.services, test_config={"TESTING": True})
    finally:
        world.services.settings = settings
    for app, expected in ((proxied, "1" * 64), (world.app, "127.0.0.1")):
        r = app.test_client().post("/api/v1/me/tokens", json={"name": "адрес"}, headers=headers)
        assert r.status_code == 201, r.get_data(as_text=True)[:300]
        with world.services.uow() as uow:
            entry = uow.session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
            assert entry.address == expected


# --- afterwards: everything stored still renders, mail still goes -----------------------------------

def test_every_stored_item_still_renders_and_exports(world):
    """Runs after the hostile calls (module order): nothing they left behind breaks a page."""
    from services.models.amendments import Amendment
    from services.models.reports import Report
    from services.models.requests import InformationRequest

    with world.services.uow() as uow:
        s = uow.session
        requests = s.execute(select(InformationRequest.id)).scalars().all()
        reports = s.execute(select(Report.id)).scalars().all()
        amendments = s.execute(select(Amendment.id)).scalars().all()
    api = world.app.test_client()
    failures = []
    urls = ([f"/api/v1/requests/{i}" for i in requests] + [f"/requests/{i}" for i in requests]
            + [f"/api/v1/requests/{i}/history" for i in requests]
            + [f"/api/v1/reports/{i}{x}" for i in reports for x in ("", ".xlsx", ".pdf", "/history")]
            + [f"/reports/{i}{x}" for i in reports for x in ("", ".xlsx", ".pdf")]
            + [f"/api/v1/amendments/{i}" for i in amendments] + [f"/amendments/{i}" for i in amendments]
            + [f"/amendments/{i}/edit" for i in amendments]
            + ["/api/v1/requests", "/api/v1/inbox", "/api/v1/reports", "/api/v1/amendments", "/api/v1/mail",
               f"/api/v1/programs/{SLUG}", "/api/v1/admin/users", "/api/v1/admin/tokens",
               "/api/v1/admin/departments", f"/public/programs/{SLUG}", f"/api/v1/public/programs/{SLUG}",
               "/", "/requests", "/reports", "/amendments", "/programs", f"/programs/{SLUG}", "/requests/new"])
    assert len(requests) > 5 and reports and len(amendments) > 2
    for who in ("it", "admin", "mfc"):
        b = world.browsers.get(who) or Browser(world.app, who)
        for url in urls:
            if url.startswith("/api/"):
                r = api.get(url, headers={"Authorization": f"Bearer {world.tokens[who]}"})
            else:
                r = b.client.get(url)
            admin_only = url.startswith(("/api/v1/admin/", "/api/v1/mail"))
            if r.status_code >= 500 or (r.status_code != 200 and (who == "admin" or who == "it" and not admin_only)):
                failures.append(f"GET {url} as {who}: {r.status_code}")
            if url.endswith(".pdf") and r.status_code == 200:
                assert r.data.startswith(b"%PDF")
    ics = api.get(f"/api/v1/me/deadlines.ics?token={world.ids['calendar']}")
    if ics.status_code != 200 or b"BEGIN:VCALENDAR" not in ics.data:
        failures.append(f"ICS feed: {ics.status_code}")
    assert not failures, "\n".join(failures[:60])


def test_an_odd_but_valid_subject_is_stored_shown_and_its_emails_delivered(world):
    from services.models.mail import OutgoingEmail as MailMessage

    before = len(world.smtp.messages)
    r = world.app.test_client().post("/api/v1/requests", json={
        "program": SLUG, "subject": ODD_SUBJECT, "body": "Строка 1\r\nСтрока 2\t<b>жирный</b>", "addressees": ["mfc"],
        "send": True, "form": [{"key": "q", "label": 'Подпись «в кавычках» 😀 <i>', "type": "text"}]},
        headers={"Authorization": f"Bearer {world.tokens['it']}"})
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
    rid = r.get_json()["requests"][0]["id"]
    page = world.browsers["mfc"].client.get(f"/requests/{rid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # And through the web form, the same subject.
    b = world.browsers["it"]
    r = b.post_raw("/requests/new", [("program", SLUG), ("subject", ODD_SUBJECT + " (форма)"), ("body", "Текст"),
                                     ("addressees", "mfc"), ("working_days", "5"), ("send", "1")])
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    with world.services.uow() as uow:
        mails = uow.session.execute(select(MailMessage).where(MailMessage.subject.contains("кавычки"))).scalars().all()
        states = sorted({m.state for m in mails})
    assert mails and states == ["sent"], states
    delivered = [str(make_header(decode_header(m["Subject"]))) for m in world.smtp.messages[before:]]
    assert sum(ODD_SUBJECT in s for s in delivered) >= 2, delivered
