"""fulfillment deviation counters: per-order deviation rows, per (day, hour, channel) counts, the
threshold they hold; back-filled from the orders stored

Revision ID: 0021_analytics_deviation
Revises: 0020_boards_order_tags
Create Date: 2026-12-03 23:30:00
"""
import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0021_analytics_deviation'
down_revision = '0020_boards_order_tags'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('analytics_deviation_orders',
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('promised_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('shipped_at', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deviation_s', sa.Integer(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_pk')
    )
    op.create_index('ix_deviation_orders_promised', 'analytics_deviation_orders', ['promised_at', 'order_pk'])
    op.create_index('ix_deviation_orders_open', 'analytics_deviation_orders',
                    ['promised_at', 'order_pk', 'channel', 'day', 'hour'],
                    sqlite_where=sa.text('shipped_at IS NULL'), postgresql_where=sa.text('shipped_at IS NULL'))
    op.create_index('ix_deviation_orders_late', 'analytics_deviation_orders', ['promised_at', 'order_pk'],
                    sqlite_where=sa.text('late = 1'), postgresql_where=sa.text('late'))
    op.create_table('analytics_deviation_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('due', sa.Integer(), nullable=False),
    sa.Column('shipped', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'hour', 'channel')
    )
    op.create_table('analytics_deviation_threshold',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('threshold_s', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    # the orders already stored, under the default threshold (a published other one is
    # re-derived on the first read or by the fulfillment job)
    from engine.analytics.deviation_counts import DEFAULT_THRESHOLD_S, rebuild

    rebuild(op.get_bind(), DEFAULT_THRESHOLD_S, rollups=False)  # 0026 adds and derives the roll-ups


def downgrade() -> None:
    op.drop_table('analytics_deviation_threshold')
    op.drop_table('analytics_deviation_counts')
    op.drop_index('ix_deviation_orders_late', table_name='analytics_deviation_orders')
    op.drop_index('ix_deviation_orders_open', table_name='analytics_deviation_orders')
    op.drop_index('ix_deviation_orders_promised', table_name='analytics_deviation_orders')
    op.drop_table('analytics_deviation_orders')
