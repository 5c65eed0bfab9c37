"""The webhook's common cases, each in one SQL statement (PostgreSQL).

Most notifications are a client writing to us (or us to them), a status of a message we sent, or
Green API delivering one of those again. Done step by step that is up to eight round trips (BEGIN,
the statements, COMMIT) and the ORM around each; here each is one data-modifying CTE in
autocommit, atomic and durable on its own, and prepared once per connection (bench/RESULTS.md
measures what each part bought):

- a message from or to a client we know by any of their numbers; from a number we do not know, a
  second statement creates the client too, unless a number staff wrote is this one without its
  country code (the guide's "contained in" rule: the general way decides);
- a status, moving the message forward or kept with why it did not;
- a redelivery of one of these that is done: counted, and answered as done.

It only ever takes the case it is sure of. Anything else (a `@lid`, an edit or reaction, our own
send, a status before its message, a failed notification redelivered, a redelivered message whose
row was deleted since, any error) returns None and goes the general way
(`services.notification_receive`), which decides it exactly as if this module did not exist. A
message's columns come from the same `services.message_columns` the general way uses, the others
are the model's defaults written as SQL, and the test suite posts every payload both ways and
compares the rows.
"""

import json
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from functools import cache

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from clients.models import ClientNumber
from clients.phones import national_forms
from clients.services import log_created, log_finding, log_found, number_lock_key
from whatsapp.models import Message, Notification
from whatsapp.notifications import MessageNotification, StatusNotification

# The notification's columns that come from the request, in this order in every statement's
# parameters (see _notification_values); the others are constants and now() in the SQL.
_NOTIFICATION_COLUMNS = "type_webhook, instance_id, id_message, dedupe_key, body"
_NOTIFICATION_INSERT = f"""
    INSERT INTO whatsapp_notifications ({_NOTIFICATION_COLUMNS}, received_at, processed_at, deliveries, outcome, detail)
    SELECT %s, %s, %s, %s, %s, now(), now(), 1, 'processed', {{detail}}"""
# A redelivery of a notification that is done is counted and answered as done, all in the same
# statement (a failed or waiting one returns no row and goes the general way, which retries it).
_REDELIVERY = """
    ON CONFLICT (dedupe_key) DO UPDATE SET deliveries = whatsapp_notifications.deliveries + 1
    WHERE whatsapp_notifications.outcome IN ('processed', 'ignored'){also}
    RETURNING id, deliveries, outcome, detail"""
# A message's notification is done while its message exists: once deleted (the guide's clean-up),
# the general way processes it again (services._done). One index lookup, only on a redelivery.
_MESSAGE_REDELIVERY = _REDELIVERY.format(
    also="""
        AND EXISTS (SELECT FROM messages WHERE channel = 'whatsapp'
            AND instance_id = EXCLUDED.instance_id AND external_id = EXCLUDED.id_message)"""
)


def _default_sql(field: Field) -> str:
    """A column the notification does not set, as the SQL of its model default.

    Constants are written into the statement rather than sent with every notification: fewer
    parameters for psycopg to adapt, and the prepared statement holds them once.
    """
    if field.primary_key and field.default is uuid.uuid4:
        return "gen_random_uuid()"
    if getattr(field, "auto_now", False) or field.default is timezone.now:
        return "now()"
    if not field.has_default():
        if field.null:
            return "NULL"
        if field.empty_strings_allowed:
            return "''"
    default = field.get_default()
    if isinstance(default, str):
        return "'" + default.replace("'", "''") + "'"
    if isinstance(default, (list, dict)):
        return "'" + json.dumps(default).replace("'", "''") + "'::jsonb"
    raise TypeError(f"Message.{field.name}: no SQL for its default {default!r}; give it one in _default_sql")


@cache
def _message_insert(columns: tuple[str, ...]) -> str:
    """INSERT … SELECT of a message: `columns` (from services.message_columns) as parameters, the
    client and notification from the CTEs before it, every other column its default."""
    others = [
        f
        for f in Message._meta.concrete_fields
        if f.attname not in columns and f.name not in ("client", "notification")
    ]
    names = [*columns, *(f.column for f in others), "client_id", "notification_id"]
    values = ["%s"] * len(columns) + [_default_sql(f) for f in others] + ["client.id", "notification.id"]
    return f"""
    INSERT INTO messages ({", ".join(names)})
    SELECT {", ".join(values)} FROM client, notification WHERE notification.deliveries = 1
    ON CONFLICT (channel, instance_id, external_id) DO NOTHING
    RETURNING id"""


def _client_by_number(*, after: str = "") -> str:
    """The client one of whose numbers is the message's (clients.services.client_with_number);
    `after` names a CTE to run first."""
    first = f"{after}, " if after else ""
    return f"""
    SELECT clients.id, clients.name FROM {first}{ClientNumber._meta.db_table} AS number
    JOIN clients ON clients.id = number.client_id
    WHERE number.kind = '{ClientNumber.Kind.PHONE}' AND number.value = %s"""


@cache
def _message_sql(columns: tuple[str, ...], *, new_client: bool = False) -> str:
    """A message from a client we know by number; with `new_client`, from a number that is no
    client's yet and that no number people wrote is a national form of (the guide's "contained in"
    rule, whose matches the general way decides: clients.services): the client is created as
    clients.services creates one, its number row first and marked as the webhook's. A separate
    statement, tried only after the first found no client: an INSERT INTO clients in every message's
    statement would fire the clients' triggers every time, rows or not. If the same number is being
    created concurrently (or added by staff), that one wins and this one goes the general way,
    which finds it; the lock is the one staff's check takes (clients.services.number_lock_key)."""
    if new_client:
        client = f"""locked AS (
    SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))
), number AS (
    INSERT INTO {ClientNumber._meta.db_table} (client_id, kind, value, source)
    SELECT gen_random_uuid(), '{ClientNumber.Kind.PHONE}', %s, '{ClientNumber.Source.WEBHOOK}' FROM locked
    WHERE NOT EXISTS (
        SELECT FROM {ClientNumber._meta.db_table}
        WHERE kind = '{ClientNumber.Kind.PHONE}' AND value = ANY(%s::text[]) AND source = '{ClientNumber.Source.STAFF}'
    )
    ON CONFLICT DO NOTHING
    RETURNING client_id
), created AS (
    INSERT INTO clients (id, name, phone, whatsapp_id, created_at, updated_at)
    SELECT client_id, %s, '+' || %s, %s, now(), now() FROM number
    RETURNING id, name
), client AS (
    SELECT id, name FROM created"""
    else:
        client = f"client AS ({_client_by_number()}"
    return f"""
WITH {client}
), notification AS ({_NOTIFICATION_INSERT.format(detail="''")} WHERE EXISTS (SELECT FROM client){_MESSAGE_REDELIVERY}
), message AS ({_message_insert(columns)}
)
SELECT client.id, client.name, n.id, n.deliveries, n.outcome, n.detail, (SELECT id FROM message), {new_client}
FROM client LEFT JOIN notification n ON true
"""


@cache
def _outgoing_sql(columns: tuple[str, ...]) -> str:
    """As _message_sql, for a message we sent; never when its row exists already (our own send,
    which the general way merges). The advisory lock is the one the general way takes for an
    outbound idMessage, so a status for it that is being kept as waiting right now either commits
    first (and the check after this statement finds it) or waits for this message."""
    return f"""
WITH locked AS (
    SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))
), client AS ({_client_by_number(after="locked")}
), notification AS ({_NOTIFICATION_INSERT.format(detail="''")} WHERE EXISTS (SELECT FROM client) AND NOT EXISTS (
        SELECT FROM messages WHERE channel = 'whatsapp' AND instance_id = %s AND external_id = %s
    )
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, deliveries, outcome, detail
), message AS ({_message_insert(columns)}
)
SELECT client.id, client.name, n.id, n.deliveries, n.outcome, n.detail, (SELECT id FROM message), false
FROM client LEFT JOIN notification n ON true
"""


# The target row is locked first; a concurrent status for the same message waits, then sees the
# row as that one left it. A status that is not ahead of it is kept with the general way's detail
# (the last parameter) and changes nothing.
_STATUS_SQL = f"""
WITH target AS (
    SELECT id, status = ANY(%s) AS ahead FROM messages
    WHERE channel = 'whatsapp' AND instance_id = %s AND external_id = %s
    FOR UPDATE
), notification AS ({_NOTIFICATION_INSERT.format(detail="CASE WHEN (SELECT ahead FROM target) THEN '' ELSE %s END")}
    WHERE EXISTS (SELECT FROM target){_REDELIVERY.format(also="")}
), changed AS (
    UPDATE messages SET status = %s, status_description = %s, updated_at = now()
    WHERE id IN (SELECT id FROM target WHERE ahead) AND EXISTS (SELECT FROM notification WHERE deliveries = 1)
    RETURNING id
)
SELECT id, deliveries, outcome, detail FROM notification
"""

# A status kept waiting for this message (services.status_apply), looked for after the message's
# statement has committed: only then does a snapshot see a status that was waiting on its lock.
_WAITING_SQL = """
SELECT EXISTS (
    SELECT FROM whatsapp_notifications WHERE outcome = 'waiting' AND instance_id = %s AND id_message = %s
)
"""


# What store() answers: the notification's id, its outcome and detail, and whether it is a redelivery.
Stored = tuple[int, str, str, bool]


def store(parsed: object, *, raw: bytes, key: str) -> Stored | None:
    """Keep and apply the notification in one statement, or None: the general way decides."""
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
    env = parsed.envelope
    return [env.type_webhook, env.instance_id, env.id_message, key, raw.decode("utf-8")]


def _message_store(parsed: MessageNotification, *, raw: bytes, key: str) -> Stored | None:
    from whatsapp.services import client_name, log_duplicate, log_extracted, log_processed, message_columns

    person = parsed.person
    env = parsed.envelope
    columns = message_columns(parsed)
    shape = tuple(columns)
    notification = _notification_values(parsed, raw, key)
    outbound = columns["direction"] == Message.Direction.OUTBOUND
    if outbound:
        lock = f"{env.instance_id}:{env.id_message}"
        params = [lock, person.value, *notification, env.instance_id, env.id_message, *columns.values()]
        row = _execute(_outgoing_sql(shape), params)
    else:
        row = _execute(_message_sql(shape), [person.value, *notification, *columns.values()])
        if row is None:  # no client has this number
            lock = number_lock_key(kind=ClientNumber.Kind.PHONE, value=person.value)
            client = [lock, person.value, national_forms(person.value), client_name(parsed), person.value, person.value]
            row = _execute(_message_sql(shape, new_client=True), [*client, *notification, *columns.values()])
    if row is None or row[2] is None:
        return None  # a new client we may not create here, a failed or waiting notification: the general way
    client_id, name, notification_id, deliveries, outcome, detail, message_id, created = row
    if deliveries > 1:
        log_duplicate(parsed, outcome)
        return notification_id, outcome, detail, True
    log_extracted(person)
    log_finding(person.value)
    if created:
        log_created(client_id, name or person.value)
    else:
        log_found(client_id, name or person.value)
    if message_id is None:
        # The message was stored already under another notification (a hand-made test body and
        # the real one, say): this one is kept, and says so.
        detail = f"message {parsed.envelope.id_message} was already stored"
        Notification.objects.filter(pk=notification_id).update(detail=detail)
        return notification_id, outcome, detail, False
    if outbound:
        _apply_waiting(env.instance_id, env.id_message)
    log_processed(parsed, client_id=client_id, who=person.value)
    return notification_id, outcome, detail, False


def _apply_waiting(instance_id: int, id_message: str) -> None:
    """A status that arrived before this message and is kept waiting gets applied now."""
    from whatsapp.services import apply_waiting_statuses

    if _execute(_WAITING_SQL, [instance_id, id_message]) == (True,):
        with transaction.atomic():
            apply_waiting_statuses(
                Message.objects.get(channel="whatsapp", instance_id=instance_id, external_id=id_message)
            )


def _status_store(parsed: StatusNotification, *, raw: bytes, key: str) -> Stored | None:
    from whatsapp.services import log_duplicate, status_not_ahead

    rank = Message.STATUS_RANK
    behind = [status for status, r in rank.items() if r < rank[parsed.status]]
    env = parsed.envelope
    params = [
        behind,
        env.instance_id,
        env.id_message,
        *_notification_values(parsed, raw, key),
        status_not_ahead(parsed.status),
        parsed.status,
        parsed.description,
    ]
    row = _execute(_STATUS_SQL, params)
    if row is None:
        return None
    notification_id, deliveries, outcome, detail = row
    if deliveries > 1:
        log_duplicate(parsed, outcome)
    return notification_id, outcome, detail, deliveries > 1


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
