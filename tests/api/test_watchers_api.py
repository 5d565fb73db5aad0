"""The watchers API: follow, list, unfollow, as one user sees them, and the item's 404 for others."""
from __future__ import annotations

from sqlalchemy import func, select

from services.models.audit import AuditEntry
from services.models.discussion import Watcher

PROGRAM = "kotovsk-information-society"


def _count(services, model, *where) -> int:
    with services.uow() as uow:
        return uow.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_follow_twice_list_and_unfollow_twice(services, as_user):
    it, mfc_staff = as_user("it"), as_user("mfc_staff")
    rid = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": "Наблюдатели", "addressees": ["mfc"],
                                            "send": True}).json["requests"][0]["id"]
    for _ in range(2):
        r = mfc_staff.client.put(f"/api/v1/requests/{rid}/watchers/me", headers=mfc_staff._headers())
        assert (r.status_code, r.json) == (200, {"following": True, "watchers": 1})
    assert _count(services, Watcher) == 1
    assert _count(services, AuditEntry, AuditEntry.action == "watcher.followed") == 1
    listed = it.get(f"/api/v1/requests/{rid}/watchers").json
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Кузнецова Е. В."
    assert listed["items"][0]["department"] == "mfc" and listed["items"][0]["department_name"]
    for _ in range(2):
        r = mfc_staff.client.delete(f"/api/v1/requests/{rid}/watchers/me", headers=mfc_staff._headers())
        assert (r.status_code, r.json) == (200, {"following": False, "watchers": 0})
    assert _count(services, Watcher) == 0
    assert _count(services, AuditEntry, AuditEntry.action == "watcher.unfollowed") == 1


def test_a_department_outside_the_request_gets_its_404_and_stores_nothing(services, as_user):
    it, econ = as_user("it"), as_user("econ")
    rid = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": "Не для всех", "addressees": ["mfc"],
                                            "send": True}).json["requests"][0]["id"]
    item = econ.get(f"/api/v1/requests/{rid}")
    r = econ.client.put(f"/api/v1/requests/{rid}/watchers/me", headers=econ._headers())
    assert r.status_code == item.status_code == 404
    assert r.json["error"]["message"] == item.json["error"]["message"]
    assert econ.get(f"/api/v1/requests/{rid}/watchers").status_code == 404
    assert _count(services, Watcher) == 0
