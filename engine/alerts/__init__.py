"""Alerts: windowed measures kept as incremental counters, alert evaluation, firings and their API."""
