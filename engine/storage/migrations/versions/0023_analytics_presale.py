"""presale plan counters: per-order presale rows (ship-by, day, shipped), per (day, channel) counts;
back-filled from the orders stored

Revision ID: 0023_analytics_presale
Revises: 0022_boards_risk_rows_sku_index
Create Date: 2026-12-04 10:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023_analytics_presale'
down_revision = '0022_boards_risk_rows_sku_index'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('analytics_presale_orders',
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('ship_by', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('shipped', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_pk')
    )
    op.create_index('ix_presale_orders_ship_by', 'analytics_presale_orders', ['ship_by', 'order_pk'])
    op.create_index('ix_presale_orders_open', 'analytics_presale_orders', ['ship_by', 'order_pk', 'channel', 'day'],
                    sqlite_where=sa.text('shipped = 0'), postgresql_where=sa.text('NOT shipped'))
    op.create_table('analytics_presale_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('due', sa.Integer(), nullable=False),
    sa.Column('shipped', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'channel')
    )
    # the orders already stored (the worker's analytics.presale_counts job follows from here)
    from engine.fulfillment.presale_counts import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table('analytics_presale_counts')
    op.drop_index('ix_presale_orders_open', table_name='analytics_presale_orders')
    op.drop_index('ix_presale_orders_ship_by', table_name='analytics_presale_orders')
    op.drop_table('analytics_presale_orders')
    op.execute(sa.text("DELETE FROM analytics_count_cursor WHERE name = 'presale'"))
