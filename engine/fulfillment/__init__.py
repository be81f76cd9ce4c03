"""Fulfillment promises: the declared lateness threshold, warnings before promised and presale
ship times (sent once per order), and the presale plan (overdue orders, per-day due counts)."""
