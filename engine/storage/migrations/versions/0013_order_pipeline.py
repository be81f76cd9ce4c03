"""order pipeline: stages, prices, tickets, shipments

Revision ID: 0013_order_pipeline
Revises: 0012_outbox_dead_letters
Create Date: 2026-12-03 14:40:00
"""
import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0013_order_pipeline'
down_revision = '0012_outbox_dead_letters'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('order_pipeline',
    sa.Column('order_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('next_stage', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('seen_revision', sa.Integer(), nullable=False),
    sa.Column('due_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('hold_reason', sa.Text(), nullable=True),
    sa.Column('held_by', sa.String(length=160), nullable=True),
    sa.Column('short_skus', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=True),
    sa.Column('updated_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_pk')
    )
    with op.batch_alter_table('order_pipeline', schema=None) as batch_op:
        batch_op.create_index('ix_order_pipeline_due', ['status', 'due_at'], unique=False)

    op.create_table('order_prices',
    sa.Column('order_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('quote', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.Column('quoted_payable', sa.BigInteger(), nullable=False),
    sa.Column('platform_payable', sa.BigInteger(), nullable=True),
    sa.Column('difference', sa.BigInteger(), nullable=False),
    sa.Column('tolerance', sa.BigInteger(), nullable=True),
    sa.Column('ruleset', sa.String(length=128), nullable=True),
    sa.Column('ruleset_version', sa.Integer(), nullable=True),
    sa.Column('priced_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_pk')
    )
    op.create_table('order_shipments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('courier', sa.String(length=32), nullable=False),
    sa.Column('tracking_no', sa.String(length=64), nullable=False),
    sa.Column('lines', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=160), nullable=False),
    sa.Column('at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivery_id', sa.String(length=36), nullable=True),
    sa.Column('writeback_status', sa.String(length=16), nullable=False),
    sa.Column('writeback_at', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('writeback_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', 'tracking_no', name='uq_order_shipments_tracking')
    )
    with op.batch_alter_table('order_shipments', schema=None) as batch_op:
        batch_op.create_index('ix_order_shipments_delivery', ['delivery_id'], unique=False)

    op.create_table('order_tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('refund_id', sa.String(length=128), nullable=False),
    sa.Column('line_id', sa.String(length=128), nullable=True),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('machine', sa.String(length=128), nullable=False),
    sa.Column('platform_status', sa.String(length=64), nullable=True),
    sa.Column('created_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['workflow_instances.id'], ),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', 'kind', 'refund_id', name='uq_order_tickets_kind_refund')
    )
    with op.batch_alter_table('order_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_order_tickets_instance', ['instance_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_order_tickets_instance')
    op.drop_table('order_tickets')
    with op.batch_alter_table('order_shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_order_shipments_delivery')
    op.drop_table('order_shipments')
    op.drop_table('order_prices')
    with op.batch_alter_table('order_pipeline', schema=None) as batch_op:
        batch_op.drop_index('ix_order_pipeline_due')
    op.drop_table('order_pipeline')
