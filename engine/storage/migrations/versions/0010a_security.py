"""security: server-side builder sessions; stock counters widened to BIGINT

``user_sessions`` holds each builder sign-in (the cookie carries only a random id whose
SHA-256 digest is stored), so sign-out, a password change or a disabled user end it. On
PostgreSQL the stock counters, ledger amounts, channel quotas and pushed figures become BIGINT
(SQLite integers are 64-bit already), and the reservation function keeps its counters in
bigint variables.

Revision ID: 0010a_security
Revises: 0009_inventory_reserve_function
Create Date: 2026-12-03 11:40:00
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

import engine.storage.types

revision = '0010a_security'
down_revision = '0009_inventory_reserve_function'
branch_labels = None
depends_on = None

WIDENED = {
    "inventory_stock": ("total_stock", "reserved_stock", "safety_stock"),
    "inventory_ledger": ("delta_total", "delta_reserved", "total_after", "reserved_after", "safety_after"),
    "inventory_channel_snapshots": ("reported_stock", "available_at_pull"),
    "inventory_channel_settings": ("quota", "buffer"),
    "inventory_channel_pushes": ("queued_available", "pushed_available"),
}
_COUNTERS = ("t integer[]", "r integer[]", "s integer[]", "v integer[]",
             "row_t integer", "row_r integer", "row_s integer", "row_v integer")


def _reserve_function() -> str:
    """The reservation function of 0009 with its counter variables widened to bigint."""
    spec = importlib.util.spec_from_file_location(
        "_op_0009", Path(__file__).with_name("0009_inventory_reserve_function.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text: str = module.FUNCTION
    for declaration in _COUNTERS:
        assert declaration in text, declaration
        text = text.replace(declaration, declaration.replace("integer", "bigint"))
    return text


def upgrade() -> None:
    op.create_table(
        'user_sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', engine.storage.types.UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', engine.storage.types.UTCDateTime(), nullable=False),
        sa.Column('ended_at', engine.storage.types.UTCDateTime(), nullable=True),
        sa.Column('ended_reason', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id'])
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in WIDENED.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    op.execute(_reserve_function())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        spec_text = _reserve_function()
        for declaration in _COUNTERS:
            spec_text = spec_text.replace(declaration.replace("integer", "bigint"), declaration)
        op.execute(spec_text)
        for table, columns in WIDENED.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
