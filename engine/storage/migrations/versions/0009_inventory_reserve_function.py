"""inventory: the PostgreSQL reservation transaction as one server-side function

On PostgreSQL a reservation is one call, ``SELECT inventory_reserve(...)`` in autocommit: the
function claims the key, runs one conditional ``UPDATE`` per SKU (the caller passes them merged
and sorted), writes the reservation lines, the ledger rows, the per-SKU push markers and the
stored answer, and commits with the statement — one network round trip and one short
transaction instead of a client-driven sequence. A short SKU raises SQLSTATE ``OPSTK`` whose
detail lists the short SKUs (everything rolls back); a key claimed already returns the stored
answer (``{"replayed": ...}``, null when the order was reserved under another key).
SQLite keeps the same steps in Python (engine/inventory/hotpath.py).

Revision ID: 0009_inventory_reserve_function
Revises: 0008_inventory_channels
Create Date: 2026-11-29 02:10:00
"""
from alembic import op


revision = '0009_inventory_reserve_function'
down_revision = '0008_inventory_channels'
branch_labels = None
depends_on = None

SIGNATURE = "inventory_reserve(text, text, text[], integer[], text, text, timestamptz)"

FUNCTION = r"""
CREATE OR REPLACE FUNCTION inventory_reserve(p_key text, p_order text, p_skus text[], p_qtys integer[],
                                             p_channel text, p_actor text, p_at timestamptz)
RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
    claim bigint;
    prior json;
    body json;
    t integer[] := '{}';
    r integer[] := '{}';
    s integer[] := '{}';
    v integer[] := '{}';
    short text[] := '{}';
    row_t integer;
    row_r integer;
    row_s integer;
    row_v integer;
BEGIN
    -- 1. claim the key; the partial unique index on reserved order_id also refuses a second
    --    reservation of the order under another key. A racing twin waits here for the first.
    INSERT INTO inventory_requests (operation, key, order_id, answer, created_at)
    VALUES ('reserve', p_key, p_order, '{}'::json, p_at)
    ON CONFLICT DO NOTHING RETURNING id INTO claim;
    IF claim IS NULL THEN
        SELECT q.answer INTO prior FROM inventory_requests q WHERE q.operation = 'reserve' AND q.key = p_key;
        RETURN json_build_object('replayed', prior);
    END IF;
    -- 2. one conditional UPDATE per SKU, in the caller's (sorted) order
    FOR i IN 1..cardinality(p_skus) LOOP
        UPDATE inventory_stock
           SET reserved_stock = reserved_stock + p_qtys[i], version = version + 1, sync_timestamp = p_at
         WHERE sku_id = p_skus[i] AND total_stock - reserved_stock - safety_stock >= p_qtys[i]
        RETURNING total_stock, reserved_stock, safety_stock, version INTO row_t, row_r, row_s, row_v;
        IF FOUND THEN
            t := t || row_t; r := r || row_r; s := s || row_s; v := v || row_v;
        ELSE
            short := short || p_skus[i];
        END IF;
    END LOOP;
    IF cardinality(short) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'OPSTK', MESSAGE = 'insufficient stock',
                              DETAIL = array_to_json(short)::text;
    END IF;
    -- 3. lines, ledger, push markers (latest version wins) and the stored answer
    INSERT INTO inventory_reservation_lines (order_id, sku_id, qty, qty_shipped, qty_released, status, channel,
                                             created_at, updated_at)
    SELECT p_order, u.sku, u.qty, 0, 0, 'reserved', p_channel, p_at, p_at
      FROM unnest(p_skus, p_qtys) AS u(sku, qty);
    INSERT INTO inventory_ledger (operation, sku_id, delta_total, delta_reserved, total_after, reserved_after,
                                  safety_after, version, order_id, channel, actor, reason, key, at)
    SELECT 'reserve', u.sku, 0, u.qty, u.t, u.r, u.s, u.v, p_order, p_channel, p_actor, '', p_key, p_at
      FROM unnest(p_skus, p_qtys, t, r, s, v) AS u(sku, qty, t, r, s, v);
    INSERT INTO inventory_push_pending (sku_id, version, queued_at)
    SELECT u.sku, u.v, p_at FROM unnest(p_skus, v) AS u(sku, v)
        ON CONFLICT (sku_id) DO UPDATE SET version = excluded.version, queued_at = excluded.queued_at
     WHERE inventory_push_pending.version < excluded.version;
    body := json_build_object(
        'order_id', p_order, 'status', 'reserved', 'channel', p_channel, 'key', p_key,
        'lines', (SELECT json_agg(json_build_object('sku_id', u.sku, 'qty', u.qty) ORDER BY u.o)
                    FROM unnest(p_skus, p_qtys) WITH ORDINALITY AS u(sku, qty, o)),
        'stock', (SELECT json_agg(json_build_object('sku_id', u.sku, 'available', GREATEST(0, u.t - u.r - u.s),
                                                    'version', u.v) ORDER BY u.o)
                    FROM unnest(p_skus, t, r, s, v) WITH ORDINALITY AS u(sku, t, r, s, v, o)));
    UPDATE inventory_requests SET answer = body WHERE id = claim;
    RETURN json_build_object('reserved', body);
END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
