"""Inventory: one stock truth in SQL, an optional Redis admission gate in front of it, the
ledger, the reconciler and the channels' stock snapshots. See ``service`` for the entry points.
"""
