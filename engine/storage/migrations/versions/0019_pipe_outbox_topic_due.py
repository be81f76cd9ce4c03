"""the outbox claims write-backs first: an index on (status, topic, next_attempt_at)

Revision ID: 0019_pipe_outbox_topic_due
Revises: 0018_waybills
Create Date: 2026-12-03 23:00:00
"""
from alembic import op

revision = '0019_pipe_outbox_topic_due'
down_revision = '0018_waybills'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_topic_due', 'outbox', ['status', 'topic', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_topic_due', table_name='outbox')
