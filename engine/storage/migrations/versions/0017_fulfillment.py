"""ship warnings sent; the presale ship-by and after-sales ticket indexes; hourly order counts

Revision ID: 0017_fulfillment
Revises: 0016_alerts
Create Date: 2026-12-03 18:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0017_fulfillment'
down_revision = '0016_alerts'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# the presale ship-by time of an order is read from its document; the index is on that very
# expression (engine/fulfillment/sql.py writes it the same way), partial: presale orders only
_SHIP_BY = {"postgresql": "(doc ->> 'presale_ship_by')", "sqlite": "json_extract(doc, '$.presale_ship_by')"}


def upgrade() -> None:
    op.create_table('ship_warnings_sent',
    sa.Column('id', _ID, nullable=False),
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('warning', sa.String(length=64), nullable=False),
    sa.Column('due_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=128), nullable=False),
    sa.Column('ruleset', sa.String(length=128), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', 'warning', name='uq_ship_warnings_order_warning')
    )
    with op.batch_alter_table('ship_warnings_sent', schema=None) as batch_op:
        batch_op.create_index('ix_ship_warnings_sent_at', ['sent_at'], unique=False)

    ship_by = _SHIP_BY[op.get_bind().dialect.name]
    op.execute(f"CREATE INDEX ix_orders_presale_ship_by ON orders ({ship_by}) WHERE {ship_by} IS NOT NULL")
    op.create_index('ix_order_tickets_kind_created', 'order_tickets', ['kind', 'created_at'], unique=False)

    op.create_table('analytics_hour_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'hour', 'channel')
    )
    op.create_table('analytics_counted_orders',
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_pk')
    )
    op.create_table('analytics_count_cursor',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('changed_at', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('order_pk', _ID, nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_index('ix_orders_changed', 'orders', ['changed_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_orders_changed', table_name='orders')
    op.drop_table('analytics_count_cursor')
    op.drop_table('analytics_counted_orders')
    op.drop_table('analytics_hour_counts')
    op.drop_index('ix_order_tickets_kind_created', table_name='order_tickets')
    op.execute("DROP INDEX ix_orders_presale_ship_by")
    with op.batch_alter_table('ship_warnings_sent', schema=None) as batch_op:
        batch_op.drop_index('ix_ship_warnings_sent_at')
    op.drop_table('ship_warnings_sent')
