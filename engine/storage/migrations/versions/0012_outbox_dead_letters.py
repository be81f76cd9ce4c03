"""outbox: the order a delivery is about, and the replay history of dead rows

Revision ID: 0012_outbox_dead_letters
Revises: 0011_order_pulls
Create Date: 2026-12-03 12:55:00
"""
from alembic import op
import sqlalchemy as sa
import engine.storage.types


revision = '0012_outbox_dead_letters'
down_revision = '0011_order_pulls'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_ref', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_outbox_order_ref', ['order_ref'], unique=False)
    op.create_table('outbox_replays',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('previous_attempts', sa.Integer(), nullable=False),
    sa.Column('previous_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_replays', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_replays_outbox', ['outbox_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_replays', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_replays_outbox')
    op.drop_table('outbox_replays')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_order_ref')
        batch_op.drop_column('order_ref')
