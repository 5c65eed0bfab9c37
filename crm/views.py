from functools import cache

from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up. Touches nothing else: a load balancer may call it every second."""
    return JsonResponse({"status": "ok"})


@cache
def _expected_migrations() -> frozenset[tuple[str, str]]:
    # Reading the migration files is the slow part, and they cannot change under a running process.
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def readyz(request: HttpRequest) -> JsonResponse:
    """The database answers and every migration is applied: one small query."""
    try:
        applied = set(MigrationRecorder(connection).applied_migrations())
    except DatabaseError as error:
        return JsonResponse(
            {"status": "unavailable", "reason": f"database: {error}".strip()},
            status=503,
        )
    missing = sorted(f"{app}.{name}" for app, name in _expected_migrations() - applied)
    if missing:
        return JsonResponse(
            {
                "status": "unavailable",
                "reason": f"{len(missing)} migrations not applied",
                "migrations": missing,
            },
            status=503,
        )
    return JsonResponse({"status": "ok"})
