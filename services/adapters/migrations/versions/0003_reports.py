"""progress reports and their submitted revisions

Revision ID: 0003
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import services.models.base


revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('due_at', services.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('co_executor_due_date', sa.Date(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('submitted_at', services.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', services.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', services.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_reports_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('program_id', 'kind', 'period', name='uq_reports_program_kind_period')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_program_id'), ['program_id'], unique=False)
        batch_op.create_index('ix_reports_state_due', ['state', 'due_at'], unique=False)

    op.create_table('report_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('submitted_at', services.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_revisions_report_id_reports')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_report_revisions_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_revisions')),
    sa.UniqueConstraint('report_id', 'number', name='uq_report_revisions_report_number')
    )
    with op.batch_alter_table('report_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_revisions_report_id'), ['report_id'], unique=False)


def downgrade():
    with op.batch_alter_table('report_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_revisions_report_id'))
    op.drop_table('report_revisions')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_state_due')
        batch_op.drop_index(batch_op.f('ix_reports_program_id'))
    op.drop_table('reports')
