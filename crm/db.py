"""The SQL shapes the ORM has no words for, written once for PostgreSQL and SQLite alike."""

from django.db import connection, models
from django.db.models import Field, Model, QuerySet


def insert_or_skip(obj: Model) -> bool:
    """INSERT the row unless a unique constraint already holds it; True when it was inserted.

    `ON CONFLICT DO NOTHING RETURNING` answers in one round trip and never raises, so a repeat
    delivery racing the first one cannot fail the transaction (a SELECT first could not see the
    other transaction's uncommitted row; an IntegrityError would need a savepoint).
    """
    meta = obj._meta
    qn = connection.ops.quote_name
    # An auto-increment key is the database's to choose; a UUID key is ours.
    fields = [f for f in meta.concrete_fields if not (f.primary_key and getattr(obj, f.attname) is None)]
    values = db_values(obj, fields)
    columns = ", ".join(qn(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT DO NOTHING RETURNING {qn(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    setattr(obj, meta.pk.attname, meta.pk.to_python(row[0]))
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


# Fields whose Python value is already what the driver takes. Skipping Django's per-field
# preparation for them halves the cost of building an INSERT on the webhook's hot path.
_AS_IS = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.BooleanField)


def db_values(obj: Model, fields: list[Field]) -> list[object]:
    """The values of `fields` of an unsaved `obj`, as the database driver takes them."""
    return [
        getattr(obj, f.attname) if isinstance(f, _AS_IS) else f.get_db_prep_save(f.pre_save(obj, add=True), connection)
        for f in fields
    ]


# A transaction-scoped advisory lock on a name (PostgreSQL): the one SQL both write paths take it by.
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def lock_name(*parts: object) -> str:
    """The name `lock_key(*parts)` locks: what a statement passes to LOCK_SQL to take the same lock."""
    return ":".join(map(str, parts))


def lock_key(*parts: object) -> None:
    """Serialise transactions that touch the same key until they commit (PostgreSQL only).

    Used where "check, then act" spans two rows that a concurrent transaction may be creating
    (a status arriving while its message is inserted). SQLite serialises every writer anyway.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, [lock_name(*parts)])


def query_sql(queryset: QuerySet) -> tuple[str, tuple]:
    """The SQL and parameters the ORM runs for `queryset`, for a statement that embeds the same rule."""
    return queryset.query.sql_with_params()
