"""Celery tasks, one module per area; each task takes ids, opens a transaction, calls the domain."""
