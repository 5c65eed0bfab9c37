"""Deleting WhatsApp messages in bulk (`manage.py clear_whatsapp_messages`, the guide's section 4)."""

from collections.abc import Callable

from django.db import connection, transaction

from whatsapp.models import Message
from whatsapp.stats import message_counts


def messages_count() -> int:
    """From the trigger-kept counters: instant at any size (a count(*) of a million rows is not)."""
    return message_counts()["total"]


def messages_clear(*, batch_size: int = 50_000, progress: Callable[[int, int], None] | None = None) -> int:
    """Delete every WhatsApp message in batches, each its own transaction; clients stay.

    Rows never reach Python, so memory stays flat at any size, and the table is never locked for
    the whole run. On PostgreSQL each batch is a range of the table's pages (a TID range scan):
    every page is read once, as a plain DELETE would, instead of each batch scanning again past
    the dead rows of the batches before it. A last plain DELETE takes rows that arrived or moved
    meanwhile. Elsewhere, `DELETE … WHERE id IN (SELECT … LIMIT n)`.
    """
    total = messages_count()
    deleted = 0

    def batch(sql: str, params: list) -> int:
        nonlocal deleted
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            deleted += cursor.rowcount
        if progress:
            progress(deleted, max(total, deleted))
        return cursor.rowcount

    table = connection.ops.quote_name(Message._meta.db_table)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", [Message._meta.db_table])
            pages = cursor.fetchone()[0]
        # About batch_size rows a batch, at the table's rows per page.
        step = max(1, pages * batch_size // max(total, 1))
        for first in range(0, pages, step):
            batch(
                f"DELETE FROM {table} WHERE channel = %s AND ctid >= %s::tid AND ctid < %s::tid",
                ["whatsapp", f"({first},0)", f"({first + step},0)"],
            )
        batch(f"DELETE FROM {table} WHERE channel = %s", ["whatsapp"])
        return deleted
    while (
        batch(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE channel = %s LIMIT %s)",
            ["whatsapp", batch_size],
        )
        == batch_size
    ):
        pass
    return deleted
