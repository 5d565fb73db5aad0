"""reminder ladders: planned steps, user preferences, calendar feed token

Revision ID: 0004
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import services.models.base

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reminder_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("deadline_revision", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.String(length=10), nullable=False),
        sa.Column("fire_at", services.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fired_at", services.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", services.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_steps")),
        sa.UniqueConstraint("item_kind", "item_id", "rule", "deadline_revision",
                            name=op.f("uq_reminder_steps_item_kind")),
    )
    op.create_index("ix_reminder_steps_pending_due", "reminder_steps", ["fire_at"],
                    postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
    op.create_index("ix_reminder_steps_item", "reminder_steps", ["item_kind", "item_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("reminder_mode", sa.String(length=16), nullable=False, server_default="digest"))
        batch.add_column(sa.Column("calendar_token_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_calendar_token_hash"), ["calendar_token_hash"])


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_calendar_token_hash"), type_="unique")
        batch.drop_column("calendar_token_hash")
        batch.drop_column("reminder_mode")
    op.drop_index("ix_reminder_steps_item", table_name="reminder_steps")
    op.drop_index("ix_reminder_steps_pending_due", table_name="reminder_steps")
    op.drop_table("reminder_steps")
