"""messaging: conversations, messages, hand-overs; feedback: session ratings

Revision ID: 0016_messaging_feedback
Revises: 0015_risk_queue
Create Date: 2026-12-06 04:16:21.865186

"""
from alembic import op
import sqlalchemy as sa
import sqlalchemy_utc


# revision identifiers, used by Alembic.
revision = '0016_messaging_feedback'
down_revision = '0015_risk_queue'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feedback_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('subject_kind', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('counselor_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("subject_kind IN ('appointment', 'conversation', 'class')", name=op.f('ck_feedback_ratings_subject_kind')),
    sa.CheckConstraint('score >= 1 AND score <= 5', name=op.f('ck_feedback_ratings_score_range')),
    sa.ForeignKeyConstraint(['counselor_id'], ['users.id'], name=op.f('fk_feedback_ratings_counselor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_feedback_ratings_member_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_feedback_ratings_org_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_ratings')),
    sa.UniqueConstraint('member_id', 'subject_kind', 'subject_id', name=op.f('uq_feedback_ratings_member_id_subject_kind_subject_id'))
    )
    with op.batch_alter_table('feedback_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_ratings_counselor_id'), ['counselor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_ratings_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_feedback_ratings_report', ['created_at', 'subject_kind', 'org_unit_id'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('requested_counselor_id', sa.Integer(), nullable=True),
    sa.Column('claimed_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('topic', sa.String(length=80), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('first_reply_due_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('first_reply_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_message_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('risk_flag_id', sa.Integer(), nullable=True),
    sa.Column('overdue_notified_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.Column('rated_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['users.id'], name=op.f('fk_conversations_claimed_by_id_users')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_conversations_closed_by_id_users')),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_conversations_member_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_counselor_id'], ['users.id'], name=op.f('fk_conversations_requested_counselor_id_users')),
    sa.ForeignKeyConstraint(['risk_flag_id'], ['risk_flags.id'], name=op.f('fk_conversations_risk_flag_id_risk_flags'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_claimed_by_id'), ['claimed_by_id'], unique=False)
        batch_op.create_index('ix_conversations_inbox', ['status', 'urgent', 'first_reply_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversations_member_id'), ['member_id'], unique=False)

    op.create_table('conversation_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_conversation_messages_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_messages_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_messages'))
    )
    with op.batch_alter_table('conversation_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_messages_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('conversation_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('from_id', sa.Integer(), nullable=True),
    sa.Column('to_id', sa.Integer(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('reason_code', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sqlalchemy_utc.sqltypes.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_conversation_transfers_by_id_users')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_transfers_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_id'], ['users.id'], name=op.f('fk_conversation_transfers_from_id_users')),
    sa.ForeignKeyConstraint(['to_id'], ['users.id'], name=op.f('fk_conversation_transfers_to_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_transfers'))
    )
    with op.batch_alter_table('conversation_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_transfers_conversation_id'), ['conversation_id'], unique=False)



def downgrade():
    with op.batch_alter_table('conversation_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_transfers_conversation_id'))

    op.drop_table('conversation_transfers')
    with op.batch_alter_table('conversation_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_messages_conversation_id'))

    op.drop_table('conversation_messages')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_member_id'))
        batch_op.drop_index('ix_conversations_inbox')
        batch_op.drop_index(batch_op.f('ix_conversations_claimed_by_id'))

    op.drop_table('conversations')
    with op.batch_alter_table('feedback_ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_ratings_report')
        batch_op.drop_index(batch_op.f('ix_feedback_ratings_member_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_ratings_counselor_id'))

    op.drop_table('feedback_ratings')
