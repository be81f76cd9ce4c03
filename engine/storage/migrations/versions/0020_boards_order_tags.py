"""boards at scale: order tags as rows (back-filled from orders.tags, with the order's created_at
for the list's order), the open-tickets index and, on PostgreSQL, joint statistics of its columns

Revision ID: 0020_boards_order_tags
Revises: 0019_pipe_outbox_topic_due
Create Date: 2026-12-03 23:30:00
"""
import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0020_boards_order_tags'
down_revision = '0019_pipe_outbox_topic_due'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# every text tag of every stored order, once (a list as stored may repeat a tag)
_BACKFILL = {
    'postgresql': """
        INSERT INTO order_tags (order_pk, tag, created_at)
        SELECT DISTINCT o.id, e.value #>> '{}', o.created_at
        FROM orders AS o CROSS JOIN LATERAL json_array_elements(
            CASE WHEN json_typeof(o.tags) = 'array' THEN o.tags ELSE '[]'::json END) AS e(value)
        WHERE json_typeof(e.value) = 'string' AND e.value #>> '{}' <> ''
    """,
    'sqlite': """
        INSERT INTO order_tags (order_pk, tag, created_at)
        SELECT DISTINCT o.id, t.value, o.created_at
        FROM orders AS o, json_each(
            CASE WHEN json_valid(o.tags) AND json_type(o.tags) = 'array' THEN o.tags ELSE '[]' END) AS t
        WHERE t.type = 'text' AND t.value <> ''
    """,
}


def upgrade() -> None:
    op.create_table('order_tags',
    sa.Column('order_pk', _ID, nullable=False),
    sa.Column('tag', sa.Text(), nullable=False),
    sa.Column('created_at', engine.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_pk'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_pk', 'tag')
    )
    with op.batch_alter_table('order_tags', schema=None) as batch_op:
        batch_op.create_index('ix_order_tags_tag', ['tag', 'created_at', 'order_pk'], unique=False)
    op.execute(_BACKFILL[op.get_bind().dialect.name])

    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_instances_open', ['machine', 'closed', 'state', 'id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # machine, state and closed go together (a state belongs to one machine; final states are
        # closed): without joint statistics the planner takes an owner's open tickets for a few
        # and hashes every pending deadline instead of walking them in due order
        op.execute('CREATE STATISTICS IF NOT EXISTS st_workflow_instances_open (mcv) '
                   'ON machine, closed, state FROM workflow_instances')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS st_workflow_instances_open')
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_instances_open')
    with op.batch_alter_table('order_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_order_tags_tag')
    op.drop_table('order_tags')
