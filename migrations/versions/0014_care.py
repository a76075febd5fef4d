"""care: care episodes, sessions, assigned questionnaires

Revision ID: 0014_care
Revises: 0013_messaging
Create Date: 2026-12-05 19:45:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_care'
down_revision = '0013_messaging'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
