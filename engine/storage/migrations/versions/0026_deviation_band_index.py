"""deviation band index: the shipped orders by deviation, so a query's own threshold reads only
the orders between it and the counted one

Revision ID: 0026_deviation_band_index
Revises: 0025_analytics_districts
Create Date: 2026-12-04 14:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0026_deviation_band_index'
down_revision = '0025_analytics_districts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_deviation_orders_band', 'analytics_deviation_orders',
                    ['deviation_s', 'promised_at', 'channel', 'day', 'hour'], unique=False,
                    sqlite_where=sa.text('shipped_at IS NOT NULL'), postgresql_where=sa.text('shipped_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_deviation_orders_band', table_name='analytics_deviation_orders')
