"""lists in SQL: normalised search text with a trigram index, the requester on each copy, order indexes

Revision ID: 0009
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

from services.models.search import search_key

revision = "0009"
down_revision = "0001"
branch_labels = None
# The amendments table comes from 0002.
depends_on = ("0002",)


def _backfill(table: str, columns: tuple[str, ...]) -> None:
    """search_key in Python (the same fold as on write: casefold, ё -> е) for the rows already there."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}")).fetchall()
    update = sa.text(f"UPDATE {table} SET search_text = :text WHERE id = :id")
    for start in range(0, len(rows), 1000):
        batch = [{"id": r[0], "text": search_key(*r[1:])} for r in rows[start:start + 1000]]
        conn.execute(update, batch)


def _search_index(name: str, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(name, table, ["search_text"], postgresql_using="gin",
                        postgresql_ops={"search_text": "gin_trgm_ops"})
    else:
        op.create_index(name, table, ["search_text"])


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table("request_threads") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("amendments") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _backfill("request_threads", ("subject", "body"))
    _backfill("amendments", ("justification", "resolution_number"))
    _search_index("ix_request_threads_search_text", "request_threads")
    _search_index("ix_amendments_search_text", "amendments")
    op.create_index("ix_information_requests_due_at_id", "information_requests", ["due_at", "id"])
    with op.batch_alter_table("information_requests") as batch:
        batch.add_column(sa.Column("requester_department_id", sa.Integer(), nullable=True))
    op.execute("UPDATE information_requests SET requester_department_id = (SELECT t.requester_department_id "
               "FROM request_threads t WHERE t.id = information_requests.thread_id)")
    with op.batch_alter_table("information_requests") as batch:
        batch.alter_column("requester_department_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f("fk_information_requests_requester_department_id_departments"),
                                 "departments", ["requester_department_id"], ["id"])
    op.create_index("ix_information_requests_requester_id", "information_requests",
                    ["requester_department_id", "id"])


def downgrade():
    op.drop_index("ix_information_requests_requester_id", table_name="information_requests")
    with op.batch_alter_table("information_requests") as batch:
        batch.drop_constraint(op.f("fk_information_requests_requester_department_id_departments"),
                              type_="foreignkey")
        batch.drop_column("requester_department_id")
    op.drop_index("ix_information_requests_due_at_id", table_name="information_requests")
    op.drop_index("ix_amendments_search_text", table_name="amendments")
    op.drop_index("ix_request_threads_search_text", table_name="request_threads")
    with op.batch_alter_table("amendments") as batch:
        batch.drop_column("search_text")
    with op.batch_alter_table("request_threads") as batch:
        batch.drop_column("search_text")
