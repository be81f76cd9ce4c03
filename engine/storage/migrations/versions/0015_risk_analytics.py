"""risk keys, dimensions and flags; the analytics index on orders

Revision ID: 0015_risk_analytics
Revises: 0014_spine_pipeline_seen_doc
Create Date: 2026-12-03 15:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0015_risk_analytics'
down_revision = '0014_spine_pipeline_seen_doc'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('risk_keys',
    sa.Column('id', _ID, nullable=False),
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('dimension', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', 'dimension', name='uq_risk_keys_order_dimension')
    )
    with op.batch_alter_table('risk_keys', schema=None) as batch_op:
        batch_op.create_index('ix_risk_keys_window', ['dimension', 'value', 'at'], unique=False)

    op.create_table('risk_dimensions',
    sa.Column('dimension', sa.String(length=64), nullable=False),
    sa.Column('covered_from', engine.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('filled_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('filled_orders', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('dimension')
    )

    op.create_table('risk_flags',
    sa.Column('id', _ID, nullable=False),
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=128), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=128), nullable=False),
    sa.Column('flag', sa.String(length=128), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('ruleset', sa.String(length=128), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=False),
    sa.Column('at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_pk', 'rule', name='uq_risk_flags_order_rule')
    )
    with op.batch_alter_table('risk_flags', schema=None) as batch_op:
        batch_op.create_index('ix_risk_flags_at', ['at', 'id'], unique=False)
        batch_op.create_index('ix_risk_flags_rule', ['rule', 'at'], unique=False)

    op.create_index('ix_orders_analytics', 'orders', ['created_at', 'channel', 'adcode', 'dropped_by'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_orders_analytics', table_name='orders')
    with op.batch_alter_table('risk_flags', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_flags_rule')
        batch_op.drop_index('ix_risk_flags_at')
    op.drop_table('risk_flags')
    op.drop_table('risk_dimensions')
    with op.batch_alter_table('risk_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_keys_window')
    op.drop_table('risk_keys')
