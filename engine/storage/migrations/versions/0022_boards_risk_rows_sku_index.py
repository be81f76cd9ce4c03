"""boards at scale: a flagged order's row in order_tags (back-filled from risk_flags), so the order
list's 风险 filter walks the flagged orders alone; a SKU's channel pushes and snapshots by SKU
(the 库存 page reads one SKU's channels)

Revision ID: 0022_boards_risk_rows_sku_index
Revises: 0021_analytics_deviation
Create Date: 2026-12-04 10:30:00
"""
from alembic import op

revision = '0022_boards_risk_rows_sku_index'
down_revision = '0021_analytics_deviation'
branch_labels = None
depends_on = None

# engine.orders.order_tags.FLAGGED, as it was when this revision was written
_FLAGGED = 'risk:flagged'


def upgrade() -> None:
    op.execute(f"""
        INSERT INTO order_tags (order_pk, tag, created_at)
        SELECT o.id, '{_FLAGGED}', o.created_at FROM orders AS o
        WHERE EXISTS (SELECT 1 FROM risk_flags AS f WHERE f.order_pk = o.id)
          AND NOT EXISTS (SELECT 1 FROM order_tags AS t WHERE t.order_pk = o.id AND t.tag = '{_FLAGGED}')
    """)
    with op.batch_alter_table('inventory_channel_pushes', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_channel_pushes_sku', ['sku_id', 'channel'], unique=False)
    with op.batch_alter_table('inventory_channel_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_channel_snapshots_sku', ['sku_id', 'channel'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inventory_channel_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_channel_snapshots_sku')
    with op.batch_alter_table('inventory_channel_pushes', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_channel_pushes_sku')
    op.execute(f"DELETE FROM order_tags WHERE tag = '{_FLAGGED}'")
