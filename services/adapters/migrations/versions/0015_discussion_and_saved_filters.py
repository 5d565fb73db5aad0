"""discussion on every item (comments, files on reports and amendments, watchers) and saved list filters

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa
import services.models.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _created_at():
    return sa.Column("created_at", services.models.base.UTCDateTime(timezone=True), nullable=False)


def upgrade():
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("ref_label", sa.String(length=300), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_comments_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index("ix_comments_item", "comments", ["item_kind", "item_id", "id"])
    op.create_table(
        "item_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"],
                                name=op.f("fk_item_attachments_comment_id_comments")),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"],
                                name=op.f("fk_item_attachments_uploaded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_attachments")),
    )
    op.create_index("ix_item_attachments_item", "item_attachments", ["item_kind", "item_id"])
    op.create_table(
        "watchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_watchers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchers")),
        sa.UniqueConstraint("item_kind", "item_id", "user_id", name="uq_watchers_item_user"),
    )
    op.create_index("ix_watchers_user", "watchers", ["user_id"])
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("list_kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_saved_filters_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
        sa.UniqueConstraint("user_id", "list_kind", "name", name="uq_saved_filters_user_list_name"),
    )


def downgrade():
    op.drop_table("saved_filters")
    op.drop_index("ix_watchers_user", table_name="watchers")
    op.drop_table("watchers")
    op.drop_index("ix_item_attachments_item", table_name="item_attachments")
    op.drop_table("item_attachments")
    op.drop_index("ix_comments_item", table_name="comments")
    op.drop_table("comments")
