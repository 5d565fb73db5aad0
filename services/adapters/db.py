"""Engines and sessions: one per process, created on demand, never at import."""
from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

import services.models.all  # noqa: F401  (every table mapped before the first session)
from config.settings import Settings


def make_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        settings.ensure_dirs()
        engine = create_engine(
            settings.database_url,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        _serialise_sqlite_writers(engine)
        return engine
    return create_engine(
        settings.database_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 5},
    )


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Web, worker and beat share one SQLite file: take the write lock at BEGIN.

    pysqlite's deferred transactions fail with 'database is locked' when two
    readers both try to upgrade to writers; BEGIN IMMEDIATE makes the second
    one wait (busy timeout) instead. WAL lets readers go on meanwhile.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)
