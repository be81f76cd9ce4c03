"""order pipeline: the order document the pipeline last acted on

``order_pipeline.seen_doc`` keeps the order as it was at ``seen_revision``: written by the
store in the transaction that stores a newer revision (only while the pipeline had caught up),
so the follow-up of that revision compares the new document with the one the pipeline acted
on (a status change, a new refund), however many revisions arrived in between.

Revision ID: 0014_spine_pipeline_seen_doc
Revises: 0013_order_pipeline
Create Date: 2026-12-03 14:35:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_spine_pipeline_seen_doc'
down_revision = '0013_order_pipeline'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('order_pipeline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seen_doc', sa.JSON().with_variant(sa.JSON(), 'sqlite'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('order_pipeline', schema=None) as batch_op:
        batch_op.drop_column('seen_doc')
