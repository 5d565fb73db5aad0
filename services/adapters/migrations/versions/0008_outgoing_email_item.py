"""outgoing emails say which item they are about, so its page can show a failed one

Revision ID: 0008
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outgoing_emails") as batch:
        batch.add_column(sa.Column("item", sa.String(length=64), nullable=True))
        batch.create_index("ix_outgoing_emails_item", ["item", "state"], unique=False)


def downgrade():
    with op.batch_alter_table("outgoing_emails") as batch:
        batch.drop_index("ix_outgoing_emails_item")
        batch.drop_column("item")
