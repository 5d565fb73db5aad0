"""The stack's floor: the least a Flask + SQLAlchemy + psycopg service can do per HTTP transition.

One POST endpoint does what every transition of any such service must do and
nothing more: find the bearer token's hash by an indexed lookup, then in one
transaction lock the item row (`SELECT … FOR UPDATE`), update it with the
version check, insert a history row and an outbox row, commit, and answer a
small JSON body. No ORM, no worker, no audit chain, no templates. The bench
serves it with the same gunicorn settings and drives it with the same load
generator as the service, so the service's rate can be read as a fraction of
what the stack itself allows on this machine. Kept out of the service on purpose.

Its tables live in a database of their own (`setup_database` creates them);
gunicorn loads it as `bench.floor_app:create_app()` with FLOOR_DATABASE_URL set.
"""
from __future__ import annotations

import hashlib
import os
import uuid

from flask import Flask, jsonify, request
from sqlalchemy import (Column, DateTime, ForeignKey, Integer, MetaData, String, Table, create_engine, func,
                        insert, select, update)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

tokens = Table(
    "floor_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # the unique index is the lookup
    Column("user_id", Integer, nullable=False),
)
items = Table(
    "floor_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("state", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
history = Table(
    "floor_history", metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("floor_items.id"), nullable=False, index=True),
    Column("event", String(64), nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("actor_id", Integer, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
outbox = Table(
    "floor_outbox", metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(100), nullable=False, index=True),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The two states an item toggles between, so any number of transitions stays valid.
NEXT_STATE = {"answered": "accepted", "accepted": "answered"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def engine_for(database_url: str):
    # SQLAlchemy's default pool; no pre-ping, so a pooled connection costs no extra round trip.
    return create_engine(database_url, pool_pre_ping=False)


def setup_database(database_url: str, tokens_by_user: dict[int, str], item_count: int) -> None:
    """Create the floor's tables in an (empty, bench-owned) database and fill tokens and items."""
    engine = create_engine(database_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(tokens), [{"token_hash": hash_token(t), "user_id": u}
                                          for u, t in tokens_by_user.items()])
            conn.execute(insert(items), [{"id": i, "state": "answered", "version": 1}
                                         for i in range(1, item_count + 1)])
    finally:
        engine.dispose()


def create_app(database_url: str | None = None) -> Flask:
    engine = engine_for(database_url or os.environ["FLOOR_DATABASE_URL"])
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/items/<int:item_id>/transitions")
    def transition(item_id: int):
        auth = request.headers.get("Authorization", "")
        body = request.get_json(silent=True)
        if not auth.startswith("Bearer ") or not isinstance(body, dict) or not isinstance(body.get("event"), str):
            return jsonify({"error": "bearer token and {\"event\": ...} required"}), 400
        with engine.begin() as conn:
            user_id = conn.execute(select(tokens.c.user_id)
                                   .where(tokens.c.token_hash == hash_token(auth[7:]))).scalar()
            if user_id is None:
                return jsonify({"error": "unknown token"}), 401
            row = conn.execute(select(items.c.state, items.c.version)
                               .where(items.c.id == item_id).with_for_update()).first()
            if row is None:
                return jsonify({"error": "no such item"}), 404
            target = NEXT_STATE[row.state]
            conn.execute(update(items).where(items.c.id == item_id, items.c.version == row.version)
                         .values(state=target, version=row.version + 1, updated_at=func.now()))
            payload = {"item_id": item_id, "event": body["event"], "from": row.state, "to": target,
                       "actor_id": user_id}
            conn.execute(insert(history).values(item_id=item_id, event=body["event"], from_state=row.state,
                                                to_state=target, actor_id=user_id, payload=payload))
            conn.execute(insert(outbox).values(id=uuid.uuid4().hex, type=f"floor.{body['event']}",
                                               payload=payload))
        return jsonify({"id": item_id, "state": target, "version": row.version + 1})

    return app
