"""Deleting WhatsApp messages in bulk (`manage.py clear_whatsapp_messages`, the guide's section 4)."""

from collections.abc import Callable

from django.db import connection, transaction

from whatsapp.models import Message
from whatsapp.stats import message_counts


def messages_count() -> int:
    """From the trigger-kept counters: instant at any size (a count(*) of a million rows is not)."""
    return message_counts()["total"]


def messages_clear(*, batch_size: int = 50_000, progress: Callable[[int, int], None] | None = None) -> int:
    """Delete every WhatsApp message in batches; clients stay.

    Rows never reach Python, so memory stays flat at any size. On PostgreSQL each batch is a range
    of the table's pages (a TID range scan): every page is read once, as a plain DELETE would,
    instead of each batch scanning again past the dead rows of the batches before it. A last plain
    DELETE takes rows that arrived or moved meanwhile. All of it is one transaction in which the
    delete trigger leaves the clients alone (whatsapp/migrations/0013): their activity rows are
    recounted once at the end, set-based, so nobody sees counts of messages that are gone, and the
    million rows cost what the guide's raw DELETE costs instead of four times as much. Deliveries
    go on meanwhile (they insert; only the clients' activity rows are locked, for the final recount).
    Elsewhere (SQLite), `DELETE … WHERE id IN (SELECT … LIMIT n)`, each batch its own transaction.
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
        with transaction.atomic(), connection.cursor() as cursor:
            # For this transaction only: a crash or an error rolls the deletes back with it.
            cursor.execute("SELECT set_config('crm.client_activity', 'deferred', true)")
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
            # Every client a deleted message was counted for still shows a count or a latest message.
            cursor.execute("SELECT client_activity_recount()")
            # Within a caller's transaction, what it deletes next is the trigger's again.
            cursor.execute("SELECT set_config('crm.client_activity', '', true)")
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
