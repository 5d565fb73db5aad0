"""Engines and sessions: one per process, created on demand, never at import."""
from __future__ import annotations

import time

from sqlalchemy import create_engine, event, exc
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
    engine = create_engine(
        settings.database_url,
        # No pre-ping on every checkout (a round trip per transaction): a connection used within
        # PING_IDLE_SECONDS is taken as it is, an idler one is pinged (``_ping_idle``); one that died
        # anyway (the server restarted meanwhile) fails its statement, which invalidates the whole pool
        # (every older connection is replaced at its next checkout) and answers 503 (web) or is retried
        # (worker tasks); the API's token lookup, a request's first statement, is retried once on a
        # new connection (services.web.api.auth). Connections are replaced after POOL_RECYCLE_SECONDS.
        pool_pre_ping=False,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 5},
    )
    _ping_idle(engine)
    return engine


# A connection given back less than this long ago is "fresh": used without a ping.
PING_IDLE_SECONDS = 10.0
POOL_RECYCLE_SECONDS = 1800


def _ping_idle(engine: Engine) -> None:
    """Ping at checkout only a connection that sat idle in the pool (what pool_pre_ping does always)."""

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection, record):
        if record is not None:
            record.info["interdept_checked_in"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        checked_in = record.info.get("interdept_checked_in")
        if checked_in is None or time.monotonic() - checked_in < PING_IDLE_SECONDS:
            return  # new (just connected) or fresh
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out another (a new one if need be).
            raise exc.DisconnectionError(f"idle connection failed its ping: {type(error).__name__}") from error


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
