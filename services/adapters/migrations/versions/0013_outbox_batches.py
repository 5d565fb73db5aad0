"""outbox: the retry state of an event lives with it (attempts, next_attempt_at) for batch draining

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa
import services.models.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", services.models.base.UTCDateTime(timezone=True),
                                   nullable=True))
    op.create_index("ix_outbox_ready", "outbox", ["created_at"],
                    postgresql_where=sa.text("completed_at IS NULL"),
                    sqlite_where=sa.text("completed_at IS NULL"))


def downgrade():
    op.drop_index("ix_outbox_ready", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
