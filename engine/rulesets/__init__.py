"""Versioned rulesets: the draft, published immutable versions, rollback and the audit log.

``service`` holds the use cases (Session in, ORM rows out), ``validation`` the single place
that validates content, ``history`` checksums and diffs, ``routes``/``schemas`` the HTTP API
under ``/api/v1/rulesets``.
"""
