"""Users, roles, passwords, API tokens and the per-route access declarations."""
