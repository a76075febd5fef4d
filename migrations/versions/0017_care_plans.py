"""care: care episodes, their sessions, assigned questionnaires

Revision ID: 0017_care_plans
Revises: 0016_messaging_feedback
Create Date: 2026-12-06 05:01:43.148444

"""
from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc


# revision identifiers, used by Alembic.
revision = '0017_care_plans'
down_revision = '0016_messaging_feedback'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('care_episodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=True),
    sa.Column('goals', sa.Text(), nullable=False),
    sa.Column('planned_sessions', sa.Integer(), nullable=False),
    sa.Column('measures', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('opened_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['counselor_id'], ['users.id'], name=op.f('fk_care_episodes_counselor_id_users')),
    sa.ForeignKeyConstraint(['person_id'], ['users.id'], name=op.f('fk_care_episodes_person_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_episodes'))
    )
    with op.batch_alter_table('care_episodes', schema=None) as batch_op:
        batch_op.create_index('ix_care_episodes_counselor_status', ['counselor_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_episodes_person_id'), ['person_id'], unique=False)

    op.create_table('care_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_care_sessions_appointment_id_appointments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['episode_id'], ['care_episodes.id'], name=op.f('fk_care_sessions_episode_id_care_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_sessions')),
    sa.UniqueConstraint('episode_id', 'number', name=op.f('uq_care_sessions_episode_id_number'))
    )
    with op.batch_alter_table('care_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_sessions_episode_id'), ['episode_id'], unique=False)

    op.create_table('care_measure_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('counselor_id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('instrument', sa.String(length=20), nullable=False),
    sa.Column('due_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('opens_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['counselor_id'], ['users.id'], name=op.f('fk_care_measure_assignments_counselor_id_users')),
    sa.ForeignKeyConstraint(['episode_id'], ['care_episodes.id'], name=op.f('fk_care_measure_assignments_episode_id_care_episodes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_care_measure_assignments_member_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['care_sessions.id'], name=op.f('fk_care_measure_assignments_session_id_care_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_measure_assignments')),
    sa.UniqueConstraint('session_id', 'instrument', name=op.f('uq_care_measure_assignments_session_id_instrument'))
    )
    with op.batch_alter_table('care_measure_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_care_assignments_due', ['sent_at', 'opens_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_measure_assignments_counselor_id'), ['counselor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_measure_assignments_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_measure_assignments_member_id'), ['member_id'], unique=False)



def downgrade():
    with op.batch_alter_table('care_measure_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_measure_assignments_member_id'))
        batch_op.drop_index(batch_op.f('ix_care_measure_assignments_episode_id'))
        batch_op.drop_index(batch_op.f('ix_care_measure_assignments_counselor_id'))
        batch_op.drop_index('ix_care_assignments_due')

    op.drop_table('care_measure_assignments')
    with op.batch_alter_table('care_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_sessions_episode_id'))

    op.drop_table('care_sessions')
    with op.batch_alter_table('care_episodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_episodes_person_id'))
        batch_op.drop_index('ix_care_episodes_counselor_status')

    op.drop_table('care_episodes')
