"""Whether the database holds every migration this code ships: `serve` refuses to start without
them, and /readyz reports them, because every request fails on a table that is not there yet.
"""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor


def unapplied_migrations() -> list[str]:
    """`app.name` of each migration not applied yet; raises DatabaseError when the database
    cannot be read."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def migrations_applied() -> bool:
    """For the readiness probe: False when migrations are pending or the database is unreadable.
    A check reads the migration files once per process and one table, a few milliseconds."""
    try:
        return not unapplied_migrations()
    except DatabaseError:
        return False
