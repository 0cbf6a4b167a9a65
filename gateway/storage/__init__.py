"""Persistence: engine and session lifecycle, the ORM models and their migrations.

Storage raises domain errors from `gateway.errors` and knows nothing of HTTP.
"""
