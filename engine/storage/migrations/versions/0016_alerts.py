"""alert measure cursors, series, counters and firings

Revision ID: 0016_alerts
Revises: 0015_risk_analytics
Create Date: 2026-12-03 18:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0016_alerts'
down_revision = '0015_risk_analytics'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(sa.JSON(), 'sqlite')
_TIME = engine.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('alert_cursors',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('gaps', _JSON, nullable=False),
    sa.Column('updated_at', _TIME, nullable=True),
    sa.PrimaryKeyConstraint('source')
    )
    op.create_table('alert_series',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('spec', _JSON, nullable=False),
    sa.Column('backfilled_rows', sa.BigInteger(), nullable=False),
    sa.Column('created_at', _TIME, nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('alert_counters',
    sa.Column('id', _ID, nullable=False),
    sa.Column('series', sa.String(length=64), nullable=False),
    sa.Column('bucket', _TIME, nullable=False),
    sa.Column('grp', sa.String(length=128), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('lo', sa.BigInteger(), nullable=True),
    sa.Column('hi', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('series', 'bucket', 'grp', name='uq_alert_counters_window')
    )
    op.create_table('alert_distinct',
    sa.Column('id', _ID, nullable=False),
    sa.Column('series', sa.String(length=64), nullable=False),
    sa.Column('bucket', _TIME, nullable=False),
    sa.Column('grp', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('series', 'bucket', 'grp', 'value', name='uq_alert_distinct_value')
    )
    op.create_table('alert_firings',
    sa.Column('id', _ID, nullable=False),
    sa.Column('ruleset', sa.String(length=128), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('alert', sa.String(length=128), nullable=False),
    sa.Column('grp', sa.String(length=128), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('window_start', _TIME, nullable=False),
    sa.Column('window_end', _TIME, nullable=False),
    sa.Column('figures', _JSON, nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('channels', sa.String(length=512), nullable=False),
    sa.Column('deliveries', _JSON, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('fired_at', _TIME, nullable=False),
    sa.Column('cleared_at', _TIME, nullable=True),
    sa.Column('clear_figures', _JSON, nullable=True),
    sa.Column('clear_message', sa.Text(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=160), nullable=True),
    sa.Column('acknowledged_at', _TIME, nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_firings', schema=None) as batch_op:
        batch_op.create_index('ix_alert_firings_at', ['fired_at', 'id'], unique=False)
        batch_op.create_index('ix_alert_firings_alert', ['ruleset', 'alert', 'grp', 'fired_at'], unique=False)
        batch_op.create_index('ix_alert_firings_state', ['state', 'fired_at'], unique=False)

    # where the consumer starts: past every row that exists now (existing rows reach a series
    # through its back-fill, never twice)
    cursors = sa.table('alert_cursors', sa.column('source', sa.String), sa.column('last_id', sa.BigInteger),
                       sa.column('gaps', _JSON))
    bind = op.get_bind()
    rows = [{'source': 'lock', 'last_id': 0, 'gaps': []}]
    for source, table in (('orders', 'orders'), ('returns', 'order_tickets'), ('tickets', 'workflow_transitions'),
                          ('shipments', 'order_shipments')):
        top = bind.execute(sa.text(f'SELECT COALESCE(MAX(id), 0) FROM {table}')).scalar()
        rows.append({'source': source, 'last_id': int(top or 0), 'gaps': []})
    op.bulk_insert(cursors, rows)


def downgrade() -> None:
    with op.batch_alter_table('alert_firings', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_firings_state')
        batch_op.drop_index('ix_alert_firings_alert')
        batch_op.drop_index('ix_alert_firings_at')
    op.drop_table('alert_firings')
    op.drop_table('alert_distinct')
    op.drop_table('alert_counters')
    op.drop_table('alert_series')
    op.drop_table('alert_cursors')
