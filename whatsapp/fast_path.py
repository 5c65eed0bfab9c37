"""The webhook's two common cases, each in one SQL statement (PostgreSQL).

Most notifications are a known client writing to us (or us to them), or a status of a message we
sent. Done step by
step that is five round trips (BEGIN, three statements, COMMIT) and the ORM around each; here each
is one data-modifying CTE in autocommit, atomic and durable on its own (bench/RESULTS.md measures
what it bought).

It only ever takes the case it is sure of. Anything else — a new number, a duplicate, an edit or
reaction, an outgoing message, a status that is not ahead or whose message is not here, any
error — returns None and goes the general way (`services.notification_receive`), which decides it
exactly as if this module did not exist. Messages are built by the same `message_from` the general
way uses, and the test suite posts every payload both ways and compares the rows.
"""

from collections.abc import Callable
from contextlib import nullcontext
from functools import cache

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from clients.services import log_finding, log_found
from crm.db import db_values
from whatsapp.models import Message, Notification
from whatsapp.notifications import MessageNotification, StatusNotification

# In this order in every statement's parameters (see _notification_values).
_NOTIFICATION_FIELDS = [
    Notification._meta.get_field(name)
    for name in ("received_at", "type_webhook", "instance_id", "id_message", "dedupe_key", "body", "processed_at")
]
# Every column but the two that come from the other CTEs.
_MESSAGE_FIELDS = [f for f in Message._meta.concrete_fields if f.name not in ("client", "notification")]


def _columns(fields: list) -> tuple[str, str]:
    return ", ".join(connection.ops.quote_name(f.column) for f in fields), ", ".join(["%s"] * len(fields))


@cache
def _message_sql() -> str:
    n_columns, n_values = _columns(_NOTIFICATION_FIELDS)
    m_columns, m_values = _columns(_MESSAGE_FIELDS)
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


@cache
def _outgoing_sql() -> str:
    """As _message_sql, for a message we sent; never when its row exists already (our own send,
    which the general way merges). The advisory lock is the one the general way takes for an
    outbound idMessage, so a status for it that is being kept as waiting right now either commits
    first (and the check after this statement finds it) or waits for this message."""
    n_columns, n_values = _columns(_NOTIFICATION_FIELDS)
    m_columns, m_values = _columns(_MESSAGE_FIELDS)
    return f"""
WITH locked AS (
    SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))
), client AS (
    SELECT id, name FROM clients, locked WHERE whatsapp_id = %s
), notification AS (
    INSERT INTO whatsapp_notifications ({n_columns}, deliveries, outcome, detail)
    SELECT {n_values}, 1, 'processed', '' WHERE EXISTS (SELECT FROM client) AND NOT EXISTS (
        SELECT FROM messages WHERE channel = 'whatsapp' AND instance_id = %s AND external_id = %s
    )
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


@cache
def _status_sql() -> str:
    # The target row is locked first; a concurrent status for the same message waits, then sees the
    # row as that one left it, and drops out (to the general way) when it is no longer ahead.
    n_columns, n_values = _columns(_NOTIFICATION_FIELDS)
    return f"""
WITH target AS (
    SELECT id FROM messages
    WHERE channel = 'whatsapp' AND instance_id = %s AND external_id = %s AND status = ANY(%s)
    FOR UPDATE
), notification AS (
    INSERT INTO whatsapp_notifications ({n_columns}, deliveries, outcome, detail)
    SELECT {n_values}, 1, 'processed', '' WHERE EXISTS (SELECT FROM target)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
), changed AS (
    UPDATE messages SET status = %s, status_description = %s, updated_at = %s
    WHERE id IN (SELECT id FROM target) AND EXISTS (SELECT FROM notification)
    RETURNING id
)
SELECT (SELECT id FROM notification), (SELECT count(*) FROM changed)
"""


def store(parsed: object, *, raw: bytes, key: str) -> int | None:
    """Keep and apply the notification in one statement; its id, or None for the general way."""
    if not settings.WEBHOOK_FAST_PATH or connection.vendor != "postgresql":
        return None
    if isinstance(parsed, MessageNotification) and _message_applies(parsed):
        return _message_store(parsed, raw=raw, key=key)
    if isinstance(parsed, StatusNotification) and _status_applies(parsed):
        return _status_store(parsed, raw=raw, key=key)
    return None


def _message_applies(parsed: MessageNotification) -> bool:
    return not parsed.content.target_id and parsed.person is not None and parsed.person.kind == "phone"


def _status_applies(parsed: StatusNotification) -> bool:
    # A `@lid` chat id may reveal who a lid is: the general way links it.
    return parsed.status in Message.STATUS_RANK and (parsed.chat is None or parsed.chat.kind != "lid")


def _notification_values(parsed: MessageNotification | StatusNotification, raw: bytes, key: str) -> list:
    now = timezone.now()
    env = parsed.envelope
    return [now, env.type_webhook, env.instance_id, env.id_message, key, raw.decode("utf-8"), now]


def _message_store(parsed: MessageNotification, *, raw: bytes, key: str) -> int | None:
    from whatsapp.services import log_extracted, log_processed, message_from

    person = parsed.person
    env = parsed.envelope
    message = message_from(parsed, client_id=None, notification_id=None)
    values = [*_notification_values(parsed, raw, key), *db_values(message, _MESSAGE_FIELDS)]
    outbound = message.direction == Message.Direction.OUTBOUND
    if outbound:
        lock = f"{env.instance_id}:{env.id_message}"
        values = [
            *values[: len(_NOTIFICATION_FIELDS)],
            env.instance_id,
            env.id_message,
            *values[len(_NOTIFICATION_FIELDS) :],
        ]
        row = _execute(_outgoing_sql(), [lock, person.value, *values])
    else:
        row = _execute(_message_sql(), [person.value, *values])
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
        return notification_id
    if outbound:
        _apply_waiting(env.instance_id, env.id_message)
    log_processed(parsed, client_id=client_id, who=person.value)
    return notification_id


def _apply_waiting(instance_id: int, id_message: str) -> None:
    """A status that arrived before this message and is kept waiting gets applied now."""
    from whatsapp.services import apply_waiting_statuses

    waiting = Notification.objects.filter(
        outcome=Notification.Outcome.WAITING, instance_id=instance_id, id_message=id_message
    )
    if waiting.exists():
        with transaction.atomic():
            apply_waiting_statuses(
                Message.objects.get(channel="whatsapp", instance_id=instance_id, external_id=id_message)
            )


def _status_store(parsed: StatusNotification, *, raw: bytes, key: str) -> int | None:
    rank = Message.STATUS_RANK
    behind = [status for status, r in rank.items() if r < rank[parsed.status]]
    env = parsed.envelope
    params = [
        env.instance_id,
        env.id_message,
        behind,
        *_notification_values(parsed, raw, key),
        parsed.status,
        parsed.description,
        timezone.now(),
    ]
    row = _execute(_status_sql(), params)
    return row[0] if row is not None and row[0] is not None else None


def _execute(sql: str, params: list) -> tuple | None:
    # In autocommit the statement is its own transaction. Inside someone else's transaction (tests
    # wrap each in one) a savepoint keeps a failure here from aborting theirs.
    guard: Callable = transaction.atomic if connection.in_atomic_block else nullcontext
    try:
        with guard(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: the view answers 503
    except DatabaseError:
        return None  # the general way meets the same error and keeps the notification as failed
