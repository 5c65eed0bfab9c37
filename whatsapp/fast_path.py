"""The webhook's common case in one SQL statement (PostgreSQL).

Most notifications are a known client writing to us: keep the notification, find the client by the
exact whatsapp_id, store the message. Done step by step that is five round trips (BEGIN, three
statements, COMMIT) and the ORM around each; here it is one data-modifying CTE in autocommit, which
is atomic and durable on its own. It measured 2x the webhook's throughput (bench/RESULTS.md).

It only ever takes the case it is sure of. Anything else — a new number, a duplicate, an edit or
reaction, an outgoing message, any error — returns None and goes the general way
(`services.notification_receive`), which decides it exactly as if this module did not exist. The
rows it writes are built by the same `message_from` the general way uses, and the test suite posts
every payload both ways and compares the rows.
"""

from contextlib import nullcontext

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from clients.services import log_finding, log_found
from crm.db import db_values
from whatsapp.models import Message, Notification
from whatsapp.notifications import MessageNotification

_NOTIFICATION_FIELDS = [
    Notification._meta.get_field(name)
    for name in ("received_at", "type_webhook", "instance_id", "id_message", "dedupe_key", "body", "processed_at")
]
# Every column but the two that come from the other CTEs.
_MESSAGE_FIELDS = [f for f in Message._meta.concrete_fields if f.name not in ("client", "notification")]


def _sql() -> str:
    qn = connection.ops.quote_name
    n_columns = ", ".join(qn(f.column) for f in _NOTIFICATION_FIELDS)
    m_columns = ", ".join(qn(f.column) for f in _MESSAGE_FIELDS)
    n_values = ", ".join(["%s"] * len(_NOTIFICATION_FIELDS))
    m_values = ", ".join(["%s"] * len(_MESSAGE_FIELDS))
    return f"""
WITH client AS (
    SELECT id, name FROM clients WHERE whatsapp_id = %s
), notification AS (
    INSERT INTO whatsapp_notifications ({n_columns}, deliveries, outcome, detail)
    SELECT {n_values}, 1, 'processed', '' WHERE EXISTS (SELECT FROM client)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
), message AS (
    INSERT INTO messages ({m_columns}, client_id, notification_id)
    SELECT {m_values}, client.id, notification.id FROM client, notification
    ON CONFLICT (channel, instance_id, external_id) DO NOTHING
    RETURNING id
)
SELECT client.id, client.name, (SELECT id FROM notification), (SELECT id FROM message) FROM client
"""


_SQL: str | None = None


def applies(parsed: MessageNotification) -> bool:
    return (
        settings.WEBHOOK_FAST_PATH
        and connection.vendor == "postgresql"
        and parsed.envelope.type_webhook == "incomingMessageReceived"
        and not parsed.content.target_id
        and parsed.person is not None
        and parsed.person.kind == "phone"
    )


def message_store(parsed: MessageNotification, *, raw: bytes, key: str) -> tuple[int, str] | None:
    """Store notification and message in one statement; None when the general way must decide.

    Returns (notification id, detail) when both were committed.
    """
    global _SQL  # built once, after the app registry is ready
    if _SQL is None:
        _SQL = _sql()
    from whatsapp.services import log_extracted, log_processed, message_from

    person = parsed.person
    notification = Notification(
        type_webhook=parsed.envelope.type_webhook,
        instance_id=parsed.envelope.instance_id,
        id_message=parsed.envelope.id_message,
        dedupe_key=key,
        body=raw.decode("utf-8"),
    )
    notification.processed_at = notification.received_at
    message = message_from(parsed, client_id=None, notification_id=None)
    params = [person.value, *db_values(notification, _NOTIFICATION_FIELDS), *db_values(message, _MESSAGE_FIELDS)]
    # In autocommit the statement is its own transaction. Inside someone else's transaction (tests
    # wrap each in one) a savepoint keeps a failure here from aborting theirs.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with guard, connection.cursor() as cursor:
            cursor.execute(_SQL, params)
            row = cursor.fetchone()
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: the view answers 503
    except DatabaseError:
        return None  # the general way meets the same error and keeps the notification as failed
    if row is None or row[2] is None:
        return None  # a new client, or a repeated notification: the general way decides
    client_id, name, notification_id, message_id = row
    log_extracted(person)
    log_finding(person.value)
    log_found(client_id, name or person.value)
    if message_id is None:
        # The message was stored already under another notification (a hand-made test body and
        # the real one, say): this one is kept, and says so.
        detail = f"message {parsed.envelope.id_message} was already stored"
        Notification.objects.filter(pk=notification_id).update(detail=detail)
        return notification_id, detail
    log_processed(parsed, client_id=client_id, who=person.value)
    return notification_id, ""
