"""people: passwords, deactivation, sign-in attempts, token metadata, signing keys and signatures

Revision ID: 0006
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import services.models.base

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = services.models.base.UTCDateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("deactivated_at", UTC, nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("prefix", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(sa.Column("last_used_at", UTC, nullable=True))
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_email_at", "login_attempts", ["email", "at"])
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"])
    op.create_table(
        "department_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("retired_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_department_keys_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_department_keys_key_id")),
    )
    op.create_index(op.f("ix_department_keys_department_id"), "department_keys", ["department_id"])
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("signed_at", UTC, nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_signatures_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
    )
    op.create_index("ix_signatures_object", "signatures", ["object_type", "object_id"])


def downgrade():
    op.drop_index("ix_signatures_object", table_name="signatures")
    op.drop_table("signatures")
    op.drop_index(op.f("ix_department_keys_department_id"), table_name="department_keys")
    op.drop_table("department_keys")
    op.drop_index("ix_login_attempts_address_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_email_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("prefix")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deactivated_at")
        batch.drop_column("password_hash")
