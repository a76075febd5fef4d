"""messaging: conversations with counsellors

Revision ID: 0013_messaging
Revises: 0012_auth_reset
Create Date: 2026-12-05 19:45:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_messaging'
down_revision = '0012_auth_reset'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
