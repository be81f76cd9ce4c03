"""return-reason counters: per counted after-sales ticket its day, channel and reason, per (day,
channel, reason) the tickets; back-filled from the tickets stored

Revision ID: 0024_analytics_return_reasons
Revises: 0023_analytics_presale
Create Date: 2026-12-04 11:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0024_analytics_return_reasons'
down_revision = '0023_analytics_presale'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('analytics_reason_tickets',
    sa.Column('ticket_pk', _ID, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_pk'], ['order_tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_pk')
    )
    op.create_table('analytics_reason_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'channel', 'reason')
    )
    # the refund tickets already stored
    from engine.analytics.return_reason_counts import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table('analytics_reason_counts')
    op.drop_table('analytics_reason_tickets')
