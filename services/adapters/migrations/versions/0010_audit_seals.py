"""audit entries appended without a chain; a sealer chains them afterwards

Revision ID: 0010
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import services.models.base

revision = "0010"
down_revision = "0001"
branch_labels = None
depends_on = "0005"

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
    "BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    "CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
    "BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
)


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.drop_constraint("uq_audit_log_hash", "audit_log", type_="unique")
        op.drop_column("audit_log", "hash")
        op.drop_column("audit_log", "prev_hash")
        # Existing rows take this migration's transaction id (all committed, sealed first, in id order).
        op.execute("ALTER TABLE audit_log ADD COLUMN xact BIGINT DEFAULT (pg_current_xact_id()::text::bigint)")
        op.execute("ALTER TABLE audit_log ALTER COLUMN xact DROP DEFAULT")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        with op.batch_alter_table("audit_log", recreate="always") as batch:
            batch.drop_constraint("uq_audit_log_hash", type_="unique")
            batch.drop_column("hash")
            batch.drop_column("prev_hash")
            batch.add_column(sa.Column("xact", sa.BigInteger(), nullable=True))
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement.format(table="audit_log"))
    op.create_index("ix_audit_log_xact_id", "audit_log", ["xact", "id"])
    op.create_table(
        "audit_seals",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("entry_xact", sa.BigInteger(), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", services.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_seals")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_audit_seals_entry_id")),
    )
    if pg:
        op.execute("""
            CREATE TRIGGER audit_seals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seals
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        """)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement.format(table="audit_seals"))


def downgrade():
    raise NotImplementedError("the old in-transaction chain cannot be rebuilt from sealed entries")
