"""notify: SMS channel, member channel choices, quiet hours

Revision ID: 0011_notify_channels
Revises: 0010_slot_stamps
Create Date: 2026-12-05 19:45:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_notify_channels'
down_revision = '0010_slot_stamps'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
