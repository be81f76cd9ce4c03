"""order map counters: each counted order's district code, orders per (channel, day, district)
and per (channel, month, district), channel '*' for all; back-filled from the orders already counted

Revision ID: 0025_analytics_districts
Revises: 0024_analytics_return_reasons
Create Date: 2026-12-04 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0025_analytics_districts'
down_revision = '0024_analytics_return_reasons'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('analytics_counted_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adcode', sa.String(length=12), server_default='', nullable=False))
    for table, period in (('analytics_district_days', 'day'), ('analytics_district_months', 'month')):
        op.create_table(table,
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column('adcode', sa.String(length=12), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('channel', period, 'adcode')
        )
        # PostgreSQL: the map's range sums read this index alone (SQLite: the primary key)
        if op.get_bind().dialect.name == 'postgresql':
            op.create_index(f'ix_district_{period}s_orders', table, ['channel', period, 'adcode'],
                            postgresql_include=['orders'])
    # the orders the consumer already counted, in the bucket it counted them in, now with their code
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE analytics_counted_orders c SET adcode = o.adcode FROM orders o "
                   "WHERE o.id = c.order_pk AND o.adcode IS NOT NULL")
    else:
        op.execute("UPDATE analytics_counted_orders SET adcode = COALESCE((SELECT o.adcode FROM orders o "
                   "WHERE o.id = analytics_counted_orders.order_pk), '')")
    from engine.analytics.hour_counts import derive_districts

    derive_districts(op.get_bind())


def downgrade() -> None:
    op.drop_table('analytics_district_months')
    op.drop_table('analytics_district_days')
    with op.batch_alter_table('analytics_counted_orders', schema=None) as batch_op:
        batch_op.drop_column('adcode')
