"""Amendments through the HTTP API: drafting, parallel review, lapsing approvals, adoption, rebase, diff."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

SLUG = "kotovsk-information-society"
RAISE_2017 = {"financing": [{"year": 2017, "source": "city", "amount": "3329.4"}],
              "indicator_targets": [{"indicator": "I3", "year": 2017, "value": "10"}]}


def create(as_user, changes=None, user="it", **extra):
    body = {"program": SLUG, "justification": "Дополнительные средства на развитие сервисов.",
            "changes": changes or RAISE_2017, **extra}
    r = as_user(user).post("/api/v1/amendments", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def fire(as_user, user, amendment_id, event, expect=200, **body):
    r = as_user(user).post(f"/api/v1/amendments/{amendment_id}/transitions", json={"event": event, **body})
    assert r.status_code == expect, (user, event, r.get_json())
    return r.get_json()


def adopt(as_user, amendment_id, expect=200, user="it", number="245", date="2026-11-20"):
    return fire(as_user, user, amendment_id, "adopt", expect,
                data={"resolution_number": number, "resolution_date": date})


def submitted(as_user, changes=None):
    a = create(as_user, changes)
    return fire(as_user, "it", a["id"], "submit_for_review")


def approved(as_user, changes=None):
    a = submitted(as_user, changes)
    fire(as_user, "econ", a["id"], "approve")
    return fire(as_user, "finance", a["id"], "approve")


def program(as_user, version=None):
    url = f"/api/v1/programs/{SLUG}" + (f"/versions/{version}" if version else "")
    r = as_user("it").get(url)
    assert r.status_code == 200
    return r.get_json()


def cell(view, year, source):
    return next(c["amount"] for c in view["financing"] if c["year"] == year and c["source"] == source)


def emails(services):
    from services.models.mail import OutgoingEmail

    with services.uow() as uow:
        return [(e.recipient, e.subject) for e in uow.session.execute(
            select(OutgoingEmail).order_by(OutgoingEmail.id)).scalars()]


# --- the issue's "done when" ------------------------------------------------------

def test_draft_return_revise_approve_adopt_and_diff(as_user, services):
    before = program(as_user)
    n = before["version"]
    a = create(as_user)
    assert a["state"] == "draft" and a["revision"] == 1 and a["base_version"] == n
    assert a["effect"]["financing"]["total"]["delta"] == "100.0"

    a = fire(as_user, "it", a["id"], "submit_for_review")
    assert a["state"] == "under_review" and a["due_date"] and a["due_at"]
    assert set(a["reviews"]) == {"economic-policy", "finance"}
    reviewers_mail = {r for r, s in emails(services) if "на согласовании" in s}
    assert reviewers_mail == {"econ@kotovsk.example", "finance@kotovsk.example"}

    a = fire(as_user, "finance", a["id"], "return", data={"remarks": "Уточните источник."})
    assert a["state"] == "returned"
    assert a["reviews"]["finance"]["decision"] == "return"
    assert any(r == "it@kotovsk.example" and "возвращены" in s for r, s in emails(services))

    r = as_user("it").put(f"/api/v1/amendments/{a['id']}", json={
        "justification": "Уточнено: средства бюджета города.",
        "changes": {**RAISE_2017, "indicator_targets": [{"indicator": "I3", "year": 2017, "value": "12"}]}})
    assert r.status_code == 200, r.get_json()
    a = r.get_json()
    assert a["state"] == "under_review" and a["revision"] == 2
    assert a["reviews"]["finance"]["decision"] == "pending"
    assert a["revision_diff"] == [{"kind": "indicator_target", "indicator": "I3", "year": 2017,
                                   "cell": "indicators[I3].targets[2017]",
                                   "old": {"indicator": "I3", "year": 2017, "value": "10"},
                                   "new": {"indicator": "I3", "year": 2017, "value": "12"}}]
    r = as_user("econ").get(f"/api/v1/amendments/{a['id']}/revisions/1/diff/2")
    assert r.status_code == 200 and len(r.get_json()["changes"]) == 1

    a = fire(as_user, "econ", a["id"], "approve")
    assert a["state"] == "under_review"
    a = fire(as_user, "finance", a["id"], "approve")
    assert a["state"] == "approved" and a["allowed_events"] == []
    assert sorted(as_user("it").get(f"/api/v1/amendments/{a['id']}").get_json()["allowed_events"]) == [
        "adopt", "rebase", "revise", "withdraw"]

    a = adopt(as_user, a["id"])
    assert a["state"] == "adopted" and a["adopted_version"] == n + 1
    after = program(as_user)
    assert after["version"] == n + 1 and after["current_version"] == n + 1
    assert cell(after, 2017, "city") == "3329.4"
    assert Decimal(after["financing_total"]) == Decimal(before["financing_total"]) + Decimal("100.0")
    assert next(i for i in after["indicators"] if i["code"] == "I3")["targets"]["2017"] == "12"
    assert after["amendments"][-1] == {"date": "2026-11-20", "number": "245"}
    assert len(after["amendments"]) == len(before["amendments"]) + 1
    assert program(as_user, n)["financing_total"] == before["financing_total"]  # the old version is untouched

    r = as_user("finance").get(f"/api/v1/programs/{SLUG}/versions/{n}/diff/{n + 1}")
    assert r.status_code == 200
    diff = r.get_json()["changes"]
    assert diff["financing"]["cells"] == [{"year": 2017, "source": "city", "old": "3229.4", "new": "3329.4",
                                           "delta": "100.0"}]
    assert diff["financing"]["total"]["delta"] == "100.0"
    assert diff["indicator_targets"] == [{"indicator": "I3", "year": 2017, "old": None, "new": "12"}]
    assert diff["amendments_added"] == [{"date": "2026-11-20", "number": "245"}]
    approvals = as_user("it").get(f"/api/v1/programs/{SLUG}/versions/{n + 1}/approvals").get_json()
    assert {x["department"] for x in approvals["approvals"]} == {"economic-policy", "finance"}
    assert approvals["resolution_number"] == "245"

    adopted_mail = {r for r, s in emails(services) if "утверждена редакция" in s}
    assert {"it@kotovsk.example", "mfc@kotovsk.example", "econ@kotovsk.example",
            "finance@kotovsk.example"} <= adopted_mail

    hist = as_user("it").get(f"/api/v1/amendments/{a['id']}/history").get_json()["items"]
    assert [h["event"] for h in hist] == ["submit_for_review", "return", "revise", "approve", "approve", "adopt"]
    assert [h["to"] for h in hist][-3:] == ["under_review", "approved", "adopted"]


def test_seeded_history_then_new_amendment_continues_it(as_user):
    seeded = as_user("it").get(f"/api/v1/programs/{SLUG}/amendments").get_json()["items"]
    assert len(seeded) == 14 and all(x["seeded"] and x["state"] == "adopted" for x in seeded)
    a = approved(as_user)
    adopt(as_user, a["id"])
    items = as_user("it").get(f"/api/v1/amendments?program={SLUG}").get_json()
    assert items["total"] == 1 and len(items["history"]) == 15
    assert items["history"][-1] == {"sequence": 15, "date": "2026-11-20", "number": "245", "state": "adopted",
                                    "seeded": False, "amendment": a["id"], "version": 2}
    assert as_user("it").get(f"/api/v1/amendments/{a['id']}").get_json()["sequence"] == 15


# --- parallel review ---------------------------------------------------------------

@pytest.mark.parametrize("first,second", [("econ", "finance"), ("finance", "econ")])
def test_parallel_approval_in_both_orders(as_user, services, first, second):
    a = submitted(as_user)
    a = fire(as_user, first, a["id"], "approve")
    assert a["state"] == "under_review"
    dept = {"econ": "economic-policy", "finance": "finance"}
    assert a["reviews"][dept[first]]["decision"] == "approve"
    assert a["reviews"][dept[second]]["decision"] == "pending"
    fire(as_user, first, a["id"], "approve", expect=409)  # once per revision
    a = fire(as_user, second, a["id"], "approve")
    assert a["state"] == "approved"
    decision_mail = [s for r, s in emails(services) if r == "it@kotovsk.example" and "согласованы" in s]
    assert len(decision_mail) == 2


def test_approval_lapses_when_revised_during_review(as_user):
    a = submitted(as_user)
    fire(as_user, "econ", a["id"], "approve")
    r = as_user("it").put(f"/api/v1/amendments/{a['id']}", json={
        "changes": {"financing": [{"year": 2017, "source": "city", "amount": "3339.4"}]}})
    assert r.status_code == 200, r.get_json()
    a = r.get_json()
    assert a["state"] == "under_review" and a["revision"] == 2
    assert a["reviews"]["economic-policy"] == {"decision": "pending", "revision": 2}
    a = fire(as_user, "finance", a["id"], "approve")
    assert a["state"] == "under_review"  # economic policy's approval of revision 1 does not count
    a = fire(as_user, "econ", a["id"], "approve")
    assert a["state"] == "approved"


def test_return_by_one_department_while_the_other_had_approved(as_user):
    a = submitted(as_user)
    fire(as_user, "econ", a["id"], "approve")
    fire(as_user, "finance", a["id"], "return", expect=422)  # remarks are required
    a = fire(as_user, "finance", a["id"], "return", comment="Нет источника.")
    assert a["state"] == "returned"
    assert a["reviews"]["economic-policy"]["decision"] == "approve"
    assert a["reviews"]["finance"] == {"decision": "return", "revision": 1, "remarks": "Нет источника.",
                                       "user_id": a["reviews"]["finance"]["user_id"],
                                       "at": a["reviews"]["finance"]["at"]}
    fire(as_user, "econ", a["id"], "approve", expect=409)
    a = fire(as_user, "it", a["id"], "revise", data={"justification": "Источник указан."})
    assert a["state"] == "under_review" and a["revision"] == 2
    assert {d["decision"] for d in a["reviews"].values()} == {"pending"}
    fire(as_user, "finance", a["id"], "approve")
    assert fire(as_user, "econ", a["id"], "approve")["state"] == "approved"


def test_two_reviewers_approving_at_the_same_instant(services, tokens):
    """Both approvals land, exactly one history row each, and the amendment ends approved."""
    from services import amendments as am
    from services.models.registry import User
    from services.models.workflow import TransitionRecord
    from services.registry import actor_for

    with services.uow() as uow:
        users = {u.email.split("@")[0]: actor_for(u) for u in uow.session.execute(select(User)).scalars()}
        a = am.create_amendment(uow, services, users["it"], am.NewAmendment(
            program=SLUG, justification="x", changes=RAISE_2017))
        am.fire_transition(uow, services, users["it"], a.id, "submit_for_review")
        uow.commit()
        amendment_id = a.id

    barrier = threading.Barrier(2)
    errors = []

    def approve(name):
        try:
            with services.uow() as uow:
                barrier.wait(timeout=10)
                am.fire_transition(uow, services, users[name], amendment_id, "approve")
                uow.commit()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(n,)) for n in ("econ", "finance")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with services.uow() as uow:
        a = uow.session.get(am.Amendment, amendment_id)
        assert a.state == "approved"
        rows = uow.session.execute(select(TransitionRecord).where(
            TransitionRecord.workflow == "amendment", TransitionRecord.item_id == amendment_id,
            TransitionRecord.event == "approve")).scalars().all()
        assert sorted(r.actor_department for r in rows) == ["economic-policy", "finance"]
        assert [r.to_state for r in sorted(rows, key=lambda r: r.id)] == ["under_review", "approved"]
        assert sorted(r.department for r in am.reviews_of(uow.session, amendment_id)) == ["economic-policy",
                                                                                           "finance"]


def test_same_department_cannot_approve_twice_concurrently(services, tokens):
    from services import amendments as am
    from services.models.registry import User
    from services.registry import actor_for

    with services.uow() as uow:
        users = {u.email.split("@")[0]: actor_for(u) for u in uow.session.execute(select(User)).scalars()}
        a = am.create_amendment(uow, services, users["it"], am.NewAmendment(
            program=SLUG, justification="x", changes=RAISE_2017))
        am.fire_transition(uow, services, users["it"], a.id, "submit_for_review")
        uow.commit()
        amendment_id = a.id
    barrier = threading.Barrier(2)
    outcomes = []

    def approve():
        try:
            with services.uow() as uow:
                barrier.wait(timeout=10)
                am.fire_transition(uow, services, users["econ"], amendment_id, "approve")
                uow.commit()
                outcomes.append("ok")
        except am.Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "ok"]
    with services.uow() as uow:
        assert len(am.reviews_of(uow.session, amendment_id)) == 1
        assert uow.session.get(am.Amendment, amendment_id).state == "under_review"


# --- adoption, stale base, rebase ---------------------------------------------------

def test_adoption_equals_base_plus_changes(as_user):
    changes = {
        "financing": [{"year": 2018, "source": "regional", "amount": "50.5"},
                      {"year": 2018, "source": "city", "amount": "2800.0"}],
        "indicator_targets": [{"indicator": "I3", "year": 2018, "value": "15"}],
        "activities": [{"op": "add", "code": "A99", "title": "новое мероприятие", "executor": "mfc",
                        "years": [2018, 2019]},
                       {"op": "change", "code": "A2", "title": "перевод услуг в электронный вид"},
                       {"op": "remove", "code": "A1"}],
        "sections": [{"key": "1", "text": "Новый текст раздела."}],
    }
    base = program(as_user)
    a = approved(as_user, changes)
    adopt(as_user, a["id"])
    new = program(as_user)
    assert cell(new, 2018, "regional") == "50.5" and cell(new, 2018, "city") == "2800.0"
    year_2018 = next(y for y in new["financing_by_year"] if y["year"] == 2018)["total"]
    assert year_2018 == "2850.5"
    expected_total = Decimal(base["financing_total"]) - Decimal("2849.3") + Decimal("2850.5")
    assert Decimal(new["financing_total"]) == expected_total
    for c in base["financing"]:
        if c["year"] != 2018:
            assert cell(new, c["year"], c["source"]) == c["amount"]
    assert next(i for i in new["indicators"] if i["code"] == "I3")["targets"]["2018"] == "15"
    codes = [x["code"] for x in new["activities"]]
    assert "A99" in codes and "A1" not in codes
    assert next(x for x in new["activities"] if x["code"] == "A2")["title"] == "перевод услуг в электронный вид"
    diff = as_user("it").get(f"/api/v1/programs/{SLUG}/versions/1/diff/2").get_json()["changes"]
    assert diff["financing"]["total"]["delta"] == "1.2"
    assert [x["code"] for x in diff["activities"]["added"]] == ["A99"]
    assert [x["code"] for x in diff["activities"]["removed"]] == ["A1"]
    assert diff["activities"]["changed"][0]["fields"] == {
        "title": {"old": "перевод муниципальных услуг в электронный вид", "new": "перевод услуг в электронный вид"}}
    assert diff["sections"]["changed"][0]["new_text"] == "Новый текст раздела."


def test_stale_base_is_409_until_rebased_and_rebase_reports_conflicts(as_user):
    first = create(as_user, {"financing": [{"year": 2017, "source": "city", "amount": "3329.4"}],
                             "indicator_targets": [{"indicator": "I3", "year": 2017, "value": "10"}]})
    second = create(as_user, {"financing": [{"year": 2017, "source": "city", "amount": "3400.0"},
                                            {"year": 2019, "source": "city", "amount": "2700.0"}]})
    for x in (first, second):
        fire(as_user, "it", x["id"], "submit_for_review")
        fire(as_user, "econ", x["id"], "approve")
        fire(as_user, "finance", x["id"], "approve")
    adopt(as_user, first["id"], number="300", date="2026-11-10")

    r = as_user("it").post(f"/api/v1/amendments/{second['id']}/transitions",
                           json={"event": "adopt", "data": {"resolution_number": "301",
                                                            "resolution_date": "2026-11-11"}})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["base_version"] == 1 and err["current_version"] == 2
    assert [c["cell"] for c in err["conflicts"]] == ["financing[2017].city"]
    view = as_user("it").get(f"/api/v1/amendments/{second['id']}").get_json()
    assert view["state"] == "approved" and view["stale_base"] is True

    r = as_user("it").post(f"/api/v1/amendments/{second['id']}/rebase")
    assert r.status_code == 200, r.get_json()
    rebased = r.get_json()
    assert rebased["rebase"]["from"] == 1 and rebased["rebase"]["to"] == 2
    assert rebased["rebase"]["conflicts"] == [{
        "kind": "financing", "year": 2017, "source": "city", "cell": "financing[2017].city",
        "base": "3229.4", "current": "3329.4", "amendment": {"amount": "3400.0"}}]
    # A conflict means the reviewers approved something else: back to review, approvals lapsed.
    assert rebased["state"] == "under_review" and rebased["revision"] == 2 and rebased["base_version"] == 2
    fire(as_user, "it", second["id"], "rebase", expect=409)  # already on the current version
    fire(as_user, "econ", second["id"], "approve")
    fire(as_user, "finance", second["id"], "approve")
    adopt(as_user, second["id"], number="301", date="2026-11-11")
    v3 = program(as_user)
    assert v3["version"] == 3
    assert cell(v3, 2017, "city") == "3400.0" and cell(v3, 2019, "city") == "2700.0"
    assert next(i for i in v3["indicators"] if i["code"] == "I3")["targets"]["2017"] == "10"  # first's change kept


def test_rebase_without_conflicts_keeps_the_approval(as_user):
    first = approved(as_user, {"financing": [{"year": 2017, "source": "city", "amount": "3329.4"}]})
    second = approved(as_user, {"financing": [{"year": 2019, "source": "city", "amount": "2700.0"}]})
    adopt(as_user, first["id"], number="300", date="2026-11-10")
    rebased = fire(as_user, "it", second["id"], "rebase")
    assert rebased["rebase"]["conflicts"] == [] and rebased["state"] == "approved" and rebased["revision"] == 1
    adopt(as_user, second["id"], number="301", date="2026-11-11")
    v3 = program(as_user)
    assert cell(v3, 2017, "city") == "3329.4" and cell(v3, 2019, "city") == "2700.0"


# --- validation ------------------------------------------------------------------------

@pytest.mark.parametrize("changes,field", [
    ({"financing": [{"year": 2030, "source": "city", "amount": "1.0"}]}, "changes.financing[0].year"),
    ({"financing": [{"year": 2017, "source": "federal", "amount": "1.0"}]}, "changes.financing[0].source"),
    ({"financing": [{"year": 2017, "source": "city", "amount": "-1.0"}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2017, "source": "city", "amount": "много"}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2017, "source": "city", "amount": 1.5}]}, "changes.financing[0].amount"),
    ({"financing": [{"year": 2017, "source": "city", "amount": "1.0"},
                    {"year": 2017, "source": "city", "amount": "2.0"}]}, "changes.financing[1]"),
    ({"indicator_targets": [{"indicator": "I99", "year": 2017, "value": "1"}]},
     "changes.indicator_targets[0].indicator"),
    ({"indicator_targets": [{"indicator": "I3", "year": 2031, "value": "1"}]}, "changes.indicator_targets[0].year"),
    ({"indicator_targets": [{"indicator": "I3", "year": 2017, "value": "x"}]}, "changes.indicator_targets[0].value"),
    ({"activities": [{"op": "remove", "code": "A404"}]}, "changes.activities[0].code"),
    ({"activities": [{"op": "add", "code": "A50", "title": "т", "executor": "finance", "years": [2017]}]},
     "changes.activities[0].executor"),
    ({"sections": [{"key": "nope", "text": "т"}]}, "changes.sections[0].key"),
    ({"budget": []}, "changes.budget"),
    ({}, "changes"),
])
def test_invalid_change_sets_name_the_cell(as_user, changes, field):
    r = as_user("it").post("/api/v1/amendments", json={"program": SLUG, "justification": "x", "changes": changes})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"], r.get_json()


def test_adopt_requires_a_valid_resolution(as_user):
    a = approved(as_user)
    for data, field in [({}, "data.resolution_number"),
                        ({"resolution_number": "1", "resolution_date": "20.11.2026"}, "data.resolution_date"),
                        ({"resolution_number": "1", "resolution_date": "2010-01-01"}, "data.resolution_date")]:
        r = as_user("it").post(f"/api/v1/amendments/{a['id']}/transitions", json={"event": "adopt", "data": data})
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()
    assert program(as_user)["version"] == 1


def test_put_is_guarded_by_the_row_version(as_user):
    a = create(as_user)
    r = as_user("it").put(f"/api/v1/amendments/{a['id']}", json={"justification": "y", "version": a["version"] + 5})
    assert r.status_code == 409
    r = as_user("it").put(f"/api/v1/amendments/{a['id']}", json={"justification": "y", "version": a["version"]})
    assert r.status_code == 200 and r.get_json()["state"] == "draft" and r.get_json()["revision"] == 2


def test_only_the_executor_drafts_and_lists_filter(as_user):
    for user in ("mfc", "econ", "finance"):
        r = as_user(user).post("/api/v1/amendments", json={"program": SLUG, "justification": "x",
                                                            "changes": RAISE_2017})
        assert r.status_code == 403, user
    create(as_user, user="admin")
    a = submitted(as_user)
    listed = as_user("econ").get("/api/v1/amendments?state=under_review").get_json()
    assert [x["id"] for x in listed["items"]] == [a["id"]]
    assert as_user("econ").get("/api/v1/amendments?state=nope").status_code == 422
    assert as_user("econ").get("/api/v1/amendments/99999").status_code == 404
    assert as_user(None).get("/api/v1/amendments").status_code == 401


# --- every refused transition per role, over HTTP ----------------------------------------

# Demo user -> the parties it has for the Kotovsk program (hand-written, not computed).
USER_PARTIES = {
    "it": {"executor"}, "it_staff": {"executor"}, "mfc": set(), "econ": {"economic_policy"},
    "finance": {"finance"}, "admin": {"admin", "executor"},
}
# State -> event -> parties allowed to fire it there (hand-written; absent = not possible in that state).
ALLOWED = {
    "draft": {"submit_for_review": {"executor", "admin"}, "revise": {"executor", "admin"},
              "rebase": {"executor", "admin"}, "withdraw": {"executor", "admin"}},
    "under_review": {"approve": {"economic_policy", "finance"}, "return": {"economic_policy", "finance"},
                     "revise": {"executor", "admin"}, "rebase": {"executor", "admin"},
                     "withdraw": {"executor", "admin"}},
    "returned": {"revise": {"executor", "admin"}, "rebase": {"executor", "admin"},
                 "withdraw": {"executor", "admin"}},
    "approved": {"revise": {"executor", "admin"}, "rebase": {"executor", "admin"},
                 "adopt": {"executor", "admin"}, "withdraw": {"executor", "admin"}},
    "adopted": {},
    "withdrawn": {},
}
EVENT_PERMISSIONS = {"submit_for_review": {"executor", "admin"}, "approve": {"economic_policy", "finance"},
                     "return": {"economic_policy", "finance"}, "revise": {"executor", "admin"},
                     "rebase": {"executor", "admin"}, "adopt": {"executor", "admin"},
                     "withdraw": {"executor", "admin"}}


def _in_state(as_user, state):
    a = create(as_user)
    if state == "draft":
        return a
    fire(as_user, "it", a["id"], "submit_for_review")
    if state == "under_review":
        return a
    if state == "returned":
        fire(as_user, "finance", a["id"], "return", comment="нет")
        return a
    if state == "withdrawn":
        fire(as_user, "it", a["id"], "withdraw")
        return a
    fire(as_user, "econ", a["id"], "approve")
    fire(as_user, "finance", a["id"], "approve")
    if state == "adopted":
        adopt(as_user, a["id"])
    return a


@pytest.mark.parametrize("state", list(ALLOWED))
def test_refused_transitions_per_role(as_user, state):
    a = _in_state(as_user, state)
    before = as_user("admin").get(f"/api/v1/amendments/{a['id']}").get_json()
    assert before["state"] == state
    checked = 0
    for user, user_parties in USER_PARTIES.items():
        view = as_user(user).get(f"/api/v1/amendments/{a['id']}").get_json()
        expected_allowed = sorted(e for e, who in ALLOWED[state].items() if who & user_parties)
        assert sorted(view["allowed_events"]) == expected_allowed, (user, state)
        for event, who in EVENT_PERMISSIONS.items():
            if ALLOWED[state].get(event, set()) & user_parties:
                continue  # allowed: covered by the scenario tests above
            expected = 403 if not who & user_parties else 409
            r = as_user(user).post(f"/api/v1/amendments/{a['id']}/transitions", json={"event": event})
            assert r.status_code == expected, (user, state, event, r.get_json())
            checked += 1
    after = as_user("admin").get(f"/api/v1/amendments/{a['id']}").get_json()
    assert (after["state"], after["revision"], after["version"]) == (state, before["revision"], before["version"])
    assert checked > 0


def test_review_deadline_in_working_days_and_overdue_sweep_once_per_revision(as_user, services):
    from datetime import date, datetime, timedelta


    a = submitted(as_user)
    submitted_on = datetime.fromisoformat(a["submitted_at"]).astimezone(services.tz).date()
    assert a["review_working_days"] == 10
    assert date.fromisoformat(a["due_date"]) == services.calendar.add_working_days(submitted_on, 10)
    due_at = datetime.fromisoformat(a["due_at"])
    assert due_at.astimezone(services.tz).date() == date.fromisoformat(a["due_date"])
    assert (due_at.astimezone(services.tz).hour, due_at.astimezone(services.tz).minute) == (23, 59)

    fire(as_user, "econ", a["id"], "approve")
    from datetime import time as dtime, timezone as dtz

    from services.reminders import sweep_reminders

    # The ladder's "overdue" step: the first working day after the due date, at 09:00 local.
    overdue_day = services.calendar.add_working_days(date.fromisoformat(a["due_date"]), 1)
    overdue_at = datetime.combine(overdue_day, dtime(9, 5), tzinfo=services.tz).astimezone(dtz.utc)
    assert sweep_reminders(services, now=overdue_at) >= 1
    assert sweep_reminders(services, now=overdue_at + timedelta(minutes=30)) == 0  # each step once
    overdue = {r for r, s in emails(services) if "Просрочено" in s}
    # The department still to decide, and the author; economic policy has approved.
    assert overdue == {"finance@kotovsk.example", "it@kotovsk.example"}

    short = create(as_user, review_working_days=3)
    assert short["review_working_days"] == 3
    r = as_user("it").post("/api/v1/amendments", json={"program": SLUG, "justification": "x",
                                                        "changes": RAISE_2017, "review_working_days": 0})
    assert r.status_code == 422 and "review_working_days" in r.get_json()["error"]["fields"]
