"""auth: password reset codes, forced password change

Revision ID: 0012_auth_reset
Revises: 0011_notify_channels
Create Date: 2026-12-05 19:45:00
"""
from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc


# revision identifiers, used by Alembic.
revision = '0012_auth_reset'
down_revision = '0011_notify_channels'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (kept with its default): a batch rebuild of users on SQLite would
    # drop the slot-stamp trigger that migration 0010 put on the table.
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('password_reset_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('used_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_reset_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_codes'))
    )
    op.create_index('ix_password_reset_codes_user_created', 'password_reset_codes', ['user_id', 'created_at'], unique=False)


def downgrade():
    op.drop_index('ix_password_reset_codes_user_created', table_name='password_reset_codes')
    op.drop_table('password_reset_codes')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
