"""orders: pull cursors per source and received push messages

Revision ID: 0011_order_pulls
Revises: 0010_orders
Create Date: 2026-12-03 12:05:00
"""
from alembic import op
import sqlalchemy as sa
import engine.storage.types


revision = '0011_order_pulls'
down_revision = '0010_orders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_pull_cursors',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('next_start', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('pages_stored', sa.Integer(), nullable=False),
    sa.Column('orders_seen', sa.BigInteger(), nullable=False),
    sa.Column('last_run_at', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('retry_at', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )
    op.create_table('order_push_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('order_id', sa.String(length=128), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('raw', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'message_id', name='uq_order_push_source_message')
    )


def downgrade() -> None:
    op.drop_table('order_push_messages')
    op.drop_table('order_pull_cursors')
