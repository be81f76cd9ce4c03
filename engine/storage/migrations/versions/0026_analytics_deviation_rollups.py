"""deviation roll-ups: the counters per (day, channel) and per (month, hour, channel), back-filled
from the hourly ones; the shipped orders indexed by deviation, so a query's own threshold reads
only the orders between it and the counted one

Revision ID: 0026_analytics_deviation_rollups
Revises: 0025_analytics_districts
Create Date: 2026-12-04 14:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0026_analytics_deviation_rollups'
down_revision = '0025_analytics_districts'
branch_labels = None
depends_on = None


def _figures() -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in ('due', 'shipped', 'late')]


def upgrade() -> None:
    op.create_index('ix_deviation_orders_band', 'analytics_deviation_orders',
                    ['deviation_s', 'promised_at', 'channel', 'day', 'hour'], unique=False,
                    sqlite_where=sa.text('shipped_at IS NOT NULL'), postgresql_where=sa.text('shipped_at IS NOT NULL'))
    op.create_table('analytics_deviation_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    *_figures(),
    sa.PrimaryKeyConstraint('day', 'channel')
    )
    op.create_table('analytics_deviation_months',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    *_figures(),
    sa.PrimaryKeyConstraint('month', 'hour', 'channel')
    )
    from engine.analytics.deviation_counts import derive_rollups

    derive_rollups(op.get_bind())


def downgrade() -> None:
    op.drop_table('analytics_deviation_months')
    op.drop_table('analytics_deviation_days')
    op.drop_index('ix_deviation_orders_band', table_name='analytics_deviation_orders')
