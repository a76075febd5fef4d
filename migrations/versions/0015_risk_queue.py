"""risk: transfers, assignment; feedback ratings

Revision ID: 0015_risk_queue
Revises: 0014_care
Create Date: 2026-12-05 19:45:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_risk_queue'
down_revision = '0014_care'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
