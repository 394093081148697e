"""Mirror the prompt tree into SQLite or PostgreSQL: once (``sync``) or continuously (``--watch``)."""

from .reconcile import Plan, Syncer, SyncResult

__all__ = ["Plan", "SyncResult", "Syncer"]
