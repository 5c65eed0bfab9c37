"""Is the database there, and is its schema the code's? Shared by /readyz and the doctor."""

from functools import cache

from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


@cache
def _expected_migrations() -> frozenset[tuple[str, str]]:
    # Reading the migration files is the slow part, and they cannot change under a running process.
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def database_problem() -> tuple[str, list[str]] | None:
    """None when the database answers and every migration is applied; else (reason, missing)."""
    try:
        applied = set(MigrationRecorder(connection).applied_migrations())
    except DatabaseError as error:
        return f"database: {error}".strip(), []
    missing = sorted(f"{app}.{name}" for app, name in _expected_migrations() - applied)
    if missing:
        return f"{len(missing)} migrations not applied", missing
    return None
