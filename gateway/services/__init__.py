"""Domain services: every read and write of notifications, alerts, tokens and deliveries.

Each function takes the caller's `AsyncSession` first and never commits: the caller owns the
transaction. Services raise the domain errors of `gateway.errors`.
"""
