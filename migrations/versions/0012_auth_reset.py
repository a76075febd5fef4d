"""auth: password reset codes, forced password change

Revision ID: 0012_auth_reset
Revises: 0011_notify_channels
Create Date: 2026-12-05 19:45:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_auth_reset'
down_revision = '0011_notify_channels'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
