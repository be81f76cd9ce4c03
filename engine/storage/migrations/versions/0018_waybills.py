"""the shipping desk: waybills (one per order) and SKU picking locations

Revision ID: 0018_waybills
Revises: 0017_fulfillment
Create Date: 2026-12-03 18:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0018_waybills'
down_revision = '0017_fulfillment'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('waybills',
    sa.Column('id', _ID, nullable=False),
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=128), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('courier', sa.String(length=16), nullable=False),
    sa.Column('carrier_code', sa.String(length=64), nullable=False),
    sa.Column('tracking_no', sa.String(length=64), nullable=False),
    sa.Column('print_html', sa.Text(), nullable=True),
    sa.Column('print_data', sa.Text(), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('shipment_id', _ID, nullable=True),
    sa.Column('actor', sa.String(length=160), nullable=False),
    sa.Column('issued_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shipped_at', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', name='uq_waybills_order'),
    sa.UniqueConstraint('provider', 'tracking_no', name='uq_waybills_provider_tracking')
    )
    with op.batch_alter_table('waybills', schema=None) as batch_op:
        batch_op.create_index('ix_waybills_status', ['status', 'id'], unique=False)

    op.create_table('sku_locations',
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('updated_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku_id')
    )


def downgrade() -> None:
    op.drop_table('sku_locations')
    with op.batch_alter_table('waybills', schema=None) as batch_op:
        batch_op.drop_index('ix_waybills_status')
    op.drop_table('waybills')
