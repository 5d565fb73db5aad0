"""The audit chain: every transition is recorded; tampering is found and named."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from services.audit_trail import seal, verify
from services.models.audit import AuditEntry
from tests.conftest import seed

PROGRAM = "kotovsk-information-society"


def _lifecycle(as_user):
    it, mfc = as_user("it"), as_user("mfc")
    rid = it.post("/api/v1/requests", json={"program": PROGRAM, "subject": "Аудит", "addressees": ["mfc"],
                                            "send": True}).json["requests"][0]["id"]
    assert mfc.post(f"/api/v1/requests/{rid}/transitions", json={"event": "answer",
                                                                 "data": {"text": "ok"}}).status_code == 200
    assert it.post(f"/api/v1/requests/{rid}/transitions", json={"event": "accept"}).status_code == 200
    return rid


def test_every_transition_is_in_the_chain_with_who_and_from_where(services, as_user):
    rid = _lifecycle(as_user)
    with services.uow() as uow:
        rows = uow.session.execute(select(AuditEntry).where(AuditEntry.object_type == "information_request",
                                                            AuditEntry.object_id == str(rid))
                                   .order_by(AuditEntry.id)).scalars().all()
        assert [(r.action, r.before["state"], r.after["state"], r.actor_department, r.actor_role) for r in rows] == [
            ("information_request.send", "draft", "sent", "it", "requester"),
            ("information_request.answer", "sent", "answered", "mfc", "addressee"),
            ("information_request.accept", "answered", "accepted", "it", "requester"),
        ]
        assert all(r.address for r in rows)
    seal(services)
    result = verify(services)
    assert result.ok and result.checked > 3


def test_tampering_in_postgresql_is_found_and_named(pg_services, pg_url, tmp_path, monkeypatch):
    from services.web.app import create_app
    from tests.conftest import ApiClient

    tokens = seed(pg_services)
    client = create_app(services=pg_services).test_client()
    _lifecycle(lambda name: ApiClient(client, tokens[name]))
    seal(pg_services)
    with pg_services.uow() as uow:
        target = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "information_request.answer")
                                     ).scalar_one().id
        total = uow.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()

    # The application's own connection cannot change the record.
    engine = create_engine(pg_url)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET note = 'x' WHERE id = :id"), {"id": target})
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": target})

    # A superuser who switches the trigger off and edits a row directly is still caught.
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
        conn.execute(text("""UPDATE audit_log SET after = '{"state": "rejected"}' WHERE id = :id"""), {"id": target})
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete"))
    result = verify(pg_services)
    assert (result.ok, result.problems[0].entry_id) == (False, target)
    assert "изменено" in result.problems[0].reason

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("INTERDEPT_VAR_DIR", str(pg_services.settings.var_dir))
    from services.cli import main

    outcome = CliRunner().invoke(main, ["audit", "verify"])
    assert outcome.exit_code == 1
    assert f"entry {target}" in outcome.output

    # Removing an entry breaks the link of the one after it.
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete"))
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": target})
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete"))
    # (The seal names the removed entry itself, not the one after it as the old chain did.)
    result = verify(pg_services)
    assert result.ok is False and result.problems[0].entry_id == target
    assert total > target
    engine.dispose()


def test_the_sqlite_record_refuses_updates_too(sqlite_services):
    seed(sqlite_services)
    with sqlite_services.uow() as uow:
        first = uow.session.execute(select(AuditEntry.id).limit(1)).scalar_one()
    engine = sqlite_services.engine
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET note = 'x' WHERE id = :id"), {"id": first})
