"""The sealed audit chain: no lock in writers, out-of-order commits, and the two attacks on the old chain."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from services.adapters import audit
from services.audit_trail import seal, verify
from services.cli import main
from tests.conftest import seed


def _cli(services, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("INTERDEPT_VAR_DIR", str(services.settings.var_dir))
    return CliRunner().invoke(main, ["audit", "verify"])


def _superuser(url, sql, **params):
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))  # triggers off, as an intruder would
        conn.execute(text(sql), params)
    engine.dispose()


def test_deleting_the_last_entries_is_found_by_the_cli(pg_services, pg_url, monkeypatch):
    seed(pg_services)
    seal(pg_services)
    ids = [r[0] for r in create_engine(pg_url).connect().execute(text("SELECT id FROM audit_log ORDER BY id"))]
    last3 = ids[-3:]
    _superuser(pg_url, "DELETE FROM audit_log WHERE id >= :id", id=last3[0])
    _superuser(pg_url, "DELETE FROM audit_seals WHERE entry_id >= :id", id=last3[0])
    outcome = _cli(pg_services, monkeypatch)
    assert outcome.exit_code == 1, outcome.output
    assert f"entry {last3[-1]}" in outcome.output


def test_a_rewrite_with_recomputed_hashes_is_found_and_named(pg_services, pg_url, monkeypatch):
    seed(pg_services)
    seal(pg_services)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        target = conn.execute(text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 3")).scalar_one()
    _superuser(pg_url, "UPDATE audit_log SET note = 'rewritten' WHERE id = :id", id=target)
    # The intruder recomputes every later hash with the service's link function but not our key.
    _superuser(pg_url, "DELETE FROM audit_seals WHERE entry_id >= :id", id=target)
    with pg_services.uow() as uow:
        audit.seal_batch(uow.session, b"intruder's key", 100000)
        uow.session.execute(text("SET LOCAL session_replication_role = replica"))
        uow.session.commit()
    outcome = _cli(pg_services, monkeypatch)
    assert outcome.exit_code == 1, outcome.output
    assert f"entry {target}" in outcome.output
    engine.dispose()


def test_writers_do_not_wait_on_each_other_for_the_audit(pg_services):
    with pg_services.uow() as a, pg_services.uow() as b:
        for uow in (a, b):
            uow.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            uow.session.execute(text("SET LOCAL statement_timeout = '5s'"))
        audit.record(a, action="t.a", object_type="t")
        audit.record(b, action="t.b", object_type="t")  # the old chain blocked here on a's advisory lock
        b.session.commit()
        first = seal(pg_services)
        with pg_services.uow() as uow:
            sealed = {r[0] for r in uow.session.execute(text(
                "SELECT l.action FROM audit_seals s JOIN audit_log l ON l.id = s.entry_id"))}
        assert "t.a" not in sealed and first.refused == ""
        a.session.commit()
    for _ in range(50):
        report = seal(pg_services)
        result = verify(pg_services)
        if result.unsealed == 0:
            break
    assert result.ok and result.unsealed == 0 and result.checked == 2
