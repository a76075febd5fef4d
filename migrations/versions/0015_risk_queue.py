"""risk: case hand-overs (assign, reassign, transfer) with their reasons

Revision ID: 0015_risk_queue
Revises: 0012_auth_reset
Create Date: 2026-12-05 19:45:00
"""
from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc


# revision identifiers, used by Alembic.
revision = '0015_risk_queue'
down_revision = '0012_auth_reset'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('risk_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('from_id', sa.Integer(), nullable=True),
    sa.Column('to_id', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_risk_transfers_by_id_users')),
    sa.ForeignKeyConstraint(['flag_id'], ['risk_flags.id'], name=op.f('fk_risk_transfers_flag_id_risk_flags'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_id'], ['users.id'], name=op.f('fk_risk_transfers_from_id_users')),
    sa.ForeignKeyConstraint(['to_id'], ['users.id'], name=op.f('fk_risk_transfers_to_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_transfers'))
    )
    op.create_index(op.f('ix_risk_transfers_flag_id'), 'risk_transfers', ['flag_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_risk_transfers_flag_id'), table_name='risk_transfers')
    op.drop_table('risk_transfers')
