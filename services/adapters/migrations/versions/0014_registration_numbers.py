"""registration numbers: a counter per (department, year) and each item's number and date

Revision ID: 0014
Revises: 0013

Existing rows are not backfilled: their numbers would depend on the template and prefixes in force,
which the migration does not read. They keep NULL and are shown by their id, as before; every send or
submission from now on is numbered.
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
# The amendments and reports tables come from 0002 and 0003 (branches of their own off 0001).
depends_on = ("0002", "0003")

TABLES = ("request_threads", "information_requests", "reports", "amendments")


def upgrade():
    op.create_table(
        "registration_counters",
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("department", "year", name=op.f("pk_registration_counters")),
    )
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("registration_number", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("registration_date", sa.Date(), nullable=True))
            batch.create_unique_constraint(op.f(f"uq_{table}_registration_number"), ["registration_number"])


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_registration_number"), type_="unique")
            batch.drop_column("registration_date")
            batch.drop_column("registration_number")
    op.drop_table("registration_counters")
