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

A message that carries a file also gets its download job: its statement, the MediaFile and the
job (through django-tasks' own enqueue) commit in one transaction.

It only ever takes the case it is sure of. Anything else (a `@lid`, a group chat, an edit or
reaction, our own send, a status before its message, a failed notification redelivered, a
redelivered message whose row was deleted since, any error) returns None and goes the general way
(`services.notification_receive`), which decides it exactly as if this module did not exist.

Nothing here is a rule of its own. The rows are the general way's (whatsapp.rows, and
clients.services.client_new for a new client), every other column is the model's default, table
and column names come from the models' `_meta`, the status order from Message.STATUS_RANK, the
done outcomes from Notification.DONE, which client has a number and the contained-number rule are
the ORM's own queries compiled, and the locks are crm.db's. whatsapp/tests/test_parity.py runs
every payload and lifecycle both ways and compares every row and answer.
"""

import json
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from functools import cache
from types import SimpleNamespace

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from clients.models import Client, ClientNumber
from clients.phones import national_forms
from clients.services import (
    client_new,
    clients_with_number,
    log_created,
    log_finding,
    log_found,
    number_lock_key,
    numbers_contained,
)
from crm.db import LOCK_SQL, db_values, lock_name, query_sql
from whatsapp import logs
from whatsapp.content import MEDIA_TYPES
from whatsapp.hours import auto_reply_consider
from whatsapp.media import media_enqueue
from whatsapp.messages import merge_repeat
from whatsapp.models import Message, Notification
from whatsapp.notifications import MessageNotification, Parsed, StatusNotification
from whatsapp.rows import client_name, is_outbound, message_columns, message_from, notification_columns
from whatsapp.statuses import apply_waiting_statuses, status_not_ahead


def _names(model: type[Model]) -> SimpleNamespace:
    """A model's table (`.table`) and each field's column (`.external_id`), as its _meta says."""
    meta = model._meta
    return SimpleNamespace(table=meta.db_table, **{f.name: f.column for f in meta.concrete_fields})


N, M = _names(Notification), _names(Message)
_PHONE = ClientNumber.Kind.PHONE
_ANY_VALUE = "\x00value"  # stands for the number while a query of clients.services is compiled


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
        return _literal(default)
    if isinstance(default, int) and not isinstance(default, bool):
        return str(default)
    if isinstance(default, (list, dict)):
        return _literal(json.dumps(default)) + "::jsonb"
    raise TypeError(f"{field.model.__name__}.{field.name}: no SQL for its default {default!r}; give it one here")


def _insert(
    model: type[Model], columns: tuple[str, ...], *, given: dict[str, str] | None = None, then: str = ""
) -> str:
    """`INSERT INTO <table> (…) SELECT …`: `columns` (attnames) as parameters, or as the SQL `given`
    for them; the fields named in `then` from it (`client: client.id`); every other one its default."""
    given = given or {}
    meta = model._meta
    taken = dict(part.split(": ") for part in then.split(", ")) if then else {}
    others = [
        f
        for f in meta.concrete_fields
        if f.attname not in columns and f.name not in taken and not (f.primary_key and not f.has_default())
    ]
    names = [meta.get_field(c).column for c in (*columns, *taken)] + [f.column for f in others]
    values = [given.get(c, "%s") for c in columns] + list(taken.values()) + [_default_sql(f) for f in others]
    return f"INSERT INTO {meta.db_table} ({', '.join(names)})\n    SELECT {', '.join(values)}"


def _redelivery(done: tuple[str, ...], also: str = "") -> str:
    """A redelivery of a notification that is done (Notification.DONE) is counted and answered as
    done in the same statement; a failed or waiting one returns no row and goes the general way."""
    return f"""
    ON CONFLICT ({N.dedupe_key}) DO UPDATE SET {N.deliveries} = {N.table}.{N.deliveries} + 1
    WHERE {N.table}.{N.outcome} IN ({", ".join(map(_literal, done))}){also}
    RETURNING {N.id}, {N.deliveries}, {N.outcome}, {N.detail}"""


def _message_exists(instance_id: str, external_id: str) -> str:
    return f"""EXISTS (SELECT FROM {M.table} WHERE {M.channel} = {_literal(Message.CHANNEL)}
            AND {M.instance_id} = {instance_id} AND {M.external_id} = {external_id})"""


@cache
def _client_by_number() -> tuple[str, tuple]:
    """clients.services.clients_with_number, compiled once; _ANY_VALUE marks the number's parameter."""
    return query_sql(clients_with_number(kind=_PHONE, value=_ANY_VALUE).values("id", "name").order_by())


def _client_params(phone: str) -> list:
    return [phone if p == _ANY_VALUE else p for p in _client_by_number()[1]]


@cache
def _message_sql(
    notification: tuple[str, ...],
    columns: tuple[str, ...],
    client: str,
    *,
    outbound: bool,
    created: bool,
    done: tuple[str, ...],
) -> str:
    """The notification and its message, with the client the CTE `client` (whose SQL comes first)
    finds or creates. A message we sent never goes this way when its row exists already (our own
    send, which the general way merges); a redelivery of one goes the general way too."""
    if outbound:
        kept = f"""WHERE EXISTS (SELECT FROM client) AND NOT {_message_exists("%s", "%s")}
    ON CONFLICT ({N.dedupe_key}) DO NOTHING
    RETURNING {N.id}, {N.deliveries}, {N.outcome}, {N.detail}"""
    else:
        # A message's notification is done while its message exists: once deleted (the guide's
        # clean-up), the general way processes it again (services._done). One index lookup, only
        # on a redelivery.
        exists = _message_exists(f"EXCLUDED.{N.instance_id}", f"EXCLUDED.{N.id_message}")
        kept = f"WHERE EXISTS (SELECT FROM client){_redelivery(done, also=f' AND {exists}')}"
    message = _insert(Message, columns, then="client: client.id, notification: notification.id")
    return f"""
WITH {client}
), notification AS ({_insert(Notification, notification)} {kept}
), message AS (
    {message}
    FROM client, notification WHERE notification.deliveries = 1
    ON CONFLICT ({M.channel}, {M.instance_id}, {M.external_id}) DO NOTHING
    RETURNING id
)
SELECT client.id, client.name, n.id, n.deliveries, n.outcome, n.detail, (SELECT id FROM message), {created}
FROM client LEFT JOIN notification n ON true
"""


def _known_client(*, locked: bool) -> str:
    """The CTE `client`: whoever has the number (after the advisory lock, for a message we sent)."""
    sql = _client_by_number()[0]
    if locked:
        return f"locked AS ({LOCK_SQL}\n), client AS (SELECT found.* FROM locked, ({sql}) AS found"
    return f"client AS ({sql}"


@cache
def _new_client(number: tuple[str, ...], client: tuple[str, ...], contained: str) -> str:
    """The CTE `client` for a number that is no client's yet: its number row (the webhook's) and the
    client, as clients.services creates them, unless `contained` (the contained-number rule's
    query, or "") finds a number staff wrote that this one contains. If the same number is being
    created concurrently (or added by staff), that one wins and this one goes the general way,
    which finds it; the lock is the one staff's check takes (clients.services.number_lock_key)."""
    unless = f" WHERE NOT EXISTS ({contained})" if contained else ""
    clients = Client._meta.db_table
    return f"""locked AS ({LOCK_SQL}
), number AS (
    {_insert(ClientNumber, number)} FROM locked{unless}
    ON CONFLICT DO NOTHING
    RETURNING {_names(ClientNumber).client}
), created AS (
    {_insert(Client, client)} FROM number
    RETURNING {clients}.id, {clients}.name
), client AS (
    SELECT id, name FROM created"""


# The target row is locked first; a concurrent status for the same message waits, then sees the
# row as that one left it. A status that is not ahead of it is kept with the general way's detail
# (the notification's `detail` parameter) and changes nothing.
@cache
def _status_sql(notification: tuple[str, ...], done: tuple[str, ...]) -> str:
    detail = {"detail": "CASE WHEN (SELECT ahead FROM target) THEN '' ELSE %s END"}
    return f"""
WITH target AS (
    SELECT {M.id}, {M.status} = ANY(%s) AS ahead FROM {M.table}
    WHERE {M.channel} = {_literal(Message.CHANNEL)} AND {M.instance_id} = %s AND {M.external_id} = %s
    FOR UPDATE
), notification AS ({_insert(Notification, notification, given=detail)}
    WHERE EXISTS (SELECT FROM target){_redelivery(done)}
), changed AS (
    UPDATE {M.table} SET {M.status} = %s, {M.status_description} = %s, {M.updated_at} = now()
    WHERE {M.id} IN (SELECT {M.id} FROM target WHERE ahead) AND EXISTS (SELECT FROM notification WHERE deliveries = 1)
    RETURNING {M.id}
)
SELECT {N.id}, {N.deliveries}, {N.outcome}, {N.detail} FROM notification
"""


# A status kept waiting for this message (statuses.status_apply), looked for after the message's
# statement has committed: only then does a snapshot see a status that was waiting on its lock.
@cache
def _waiting_sql() -> str:
    return f"""
SELECT EXISTS (
    SELECT FROM {N.table} WHERE {N.outcome} = {_literal(Notification.Outcome.WAITING)}
    AND {N.instance_id} = %s AND {N.id_message} = %s
)
"""


# What store() answers: the notification's id, its outcome and detail, and whether it is a redelivery.
Stored = tuple[int, str, str, bool]


def store(parsed: Parsed, *, raw: bytes, key: str) -> Stored | None:
    """Keep and apply the notification in one statement, or None: the general way decides."""
    if not settings.WEBHOOK_FAST_PATH or connection.vendor != "postgresql":
        return None
    if isinstance(parsed, MessageNotification) and _message_applies(parsed):
        return _message_store(parsed, raw=raw, key=key)
    if isinstance(parsed, StatusNotification) and _status_applies(parsed):
        return _status_store(parsed, raw=raw, key=key)
    return None


def _message_applies(parsed: MessageNotification) -> bool:
    # A group's message is the group's conversation and its participant's authorship, two clients
    # to find or make: the general way's (messages.conversation_of).
    return (
        not (parsed.content.target_id or parsed.is_group)
        and parsed.person is not None
        and parsed.person.kind == "phone"
    )


def _status_applies(parsed: StatusNotification) -> bool:
    # A `@lid` chat id may reveal who a lid is: the general way links it.
    return parsed.status in Message.STATUS_RANK and (parsed.chat is None or parsed.chat.kind != "lid")


def _notification(parsed: Parsed, raw: bytes, key: str, detail: str = "") -> dict[str, object]:
    processed = Notification.Outcome.PROCESSED
    return notification_columns(env=parsed.envelope, raw=raw, key=key, outcome=processed, detail=detail)


def _message_store(parsed: MessageNotification, *, raw: bytes, key: str) -> Stored | None:
    columns = message_columns(parsed)
    # A file's download job commits with its message: the statement, the MediaFile and the job in
    # one transaction. Every other message stays one statement in autocommit.
    media = columns["type_message"] in MEDIA_TYPES
    try:
        with transaction.atomic() if media else nullcontext():
            row = _message_statements(parsed, _notification(parsed, raw, key), columns, savepoint=not media)
            return None if row is None else _message_stored(parsed, row, columns)
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: the view answers 503
    except DatabaseError:
        return None  # the general way meets the same error and keeps the notification as failed


def _message_statements(
    parsed: MessageNotification, notification: dict, columns: dict, *, savepoint: bool
) -> tuple | None:
    """The row the statement answers, or None: the general way decides."""
    phone, env = parsed.person.value, parsed.envelope
    shape = (tuple(notification), tuple(columns))
    if is_outbound(parsed):
        sql = _message_sql(*shape, _known_client(locked=True), outbound=True, created=False, done=Notification.DONE)
        lock = lock_name(env.instance_id, env.id_message)
        params = [lock, *_client_params(phone), *notification.values(), env.instance_id, env.id_message]
        row = _execute(sql, [*params, *columns.values()], savepoint=savepoint)
    else:
        values = [*notification.values(), *columns.values()]
        sql = _message_sql(*shape, _known_client(locked=False), outbound=False, created=False, done=Notification.DONE)
        row = _execute(sql, [*_client_params(phone), *values], savepoint=savepoint)
        if row is None:
            # No client has this number. A separate statement, tried only now: an INSERT INTO
            # clients in every message's statement would fire the clients' triggers every time.
            row = _execute(*_new_client_statement(parsed, shape, values), savepoint=savepoint)
    # None, or no notification: a new client we may not create here, a failed or waiting
    # notification redelivered; the general way decides.
    return None if row is None or row[2] is None else row


def _new_client_statement(parsed: MessageNotification, shape: tuple, values: list) -> tuple[str, list]:
    phone = parsed.person.value
    client, number = client_new(kind=_PHONE, value=phone, name=client_name(parsed))
    number_fields = [f for f in ClientNumber._meta.concrete_fields if not f.primary_key]
    client_fields = list(Client._meta.concrete_fields)
    forms = national_forms(phone)
    contained, contained_params = query_sql(numbers_contained(forms=forms).values("pk")) if forms else ("", ())
    head = _new_client(tuple(f.attname for f in number_fields), tuple(f.attname for f in client_fields), contained)
    params = [
        lock_name(number_lock_key(kind=_PHONE, value=phone)),
        *db_values(number, number_fields),
        *contained_params,
        *db_values(client, client_fields),
        *values,
    ]
    return _message_sql(*shape, head, outbound=False, created=True, done=Notification.DONE), params


def _message_stored(parsed: MessageNotification, row: tuple, columns: dict) -> Stored:
    """The guide's lines, and what is left once the statement committed; the answer."""
    client_id, name, notification_id, deliveries, outcome, detail, message_id, created = row
    person = parsed.person
    if deliveries > 1:
        logs.log_duplicate(parsed, outcome)
        return notification_id, outcome, detail, True
    logs.log_extracted(person)
    log_finding(person.value)
    (log_created if created else log_found)(client_id, name or person.value)
    if message_id is None:
        # Stored already under another notification (a hand-made test body and the real one, say):
        # merged as the general way merges it, and this notification says so.
        with transaction.atomic():
            message = message_from(parsed, client_id=client_id, notification_id=notification_id)
            outcome, detail = merge_repeat(message, parsed)
            Notification.objects.filter(pk=notification_id).update(outcome=outcome, detail=detail)
        return notification_id, outcome, detail, False
    stored = Message(id=message_id, client_id=client_id, **columns)
    if columns["type_message"] in MEDIA_TYPES:
        media_enqueue(message=stored, thumbnail=parsed.content.thumbnail)
    auto_reply_consider(parsed=parsed, message=stored)
    if is_outbound(parsed):
        _apply_waiting(parsed.envelope.instance_id, parsed.envelope.id_message)
    logs.log_processed(parsed, client_id=client_id, who=person.value)
    return notification_id, outcome, detail, False


def _apply_waiting(instance_id: int, id_message: str) -> None:
    """A status that arrived before this message and is kept waiting gets applied now."""
    if _execute(_waiting_sql(), [instance_id, id_message]) == (True,):
        with transaction.atomic():
            apply_waiting_statuses(
                Message.objects.get(channel=Message.CHANNEL, instance_id=instance_id, external_id=id_message)
            )


def _status_store(parsed: StatusNotification, *, raw: bytes, key: str) -> Stored | None:
    env = parsed.envelope
    # The notification's detail is the general way's for a status that is not ahead; the statement
    # keeps it only then (see _status_sql).
    notification = _notification(parsed, raw, key, detail=status_not_ahead(parsed.status))
    params = [
        Message.statuses_behind(parsed.status),
        env.instance_id,
        env.id_message,
        *notification.values(),
        parsed.status,
        parsed.description,
    ]
    row = _execute(_status_sql(tuple(notification), Notification.DONE), params)
    if row is None:
        return None
    notification_id, deliveries, outcome, detail = row
    if deliveries > 1:
        logs.log_duplicate(parsed, outcome)
    return notification_id, outcome, detail, deliveries > 1


def _execute(sql: str, params: list, *, savepoint: bool = True) -> tuple | None:
    """The statement's one row. In autocommit the statement is its own transaction. Inside someone
    else's transaction (tests wrap each in one) a savepoint keeps a failure here from aborting
    theirs; inside the fast path's own (`savepoint=False`), a failure ends it whole."""
    if not savepoint:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    guard: Callable = transaction.atomic if connection.in_atomic_block else nullcontext
    try:
        with guard(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: the view answers 503
    except DatabaseError:
        return None  # the general way meets the same error and keeps the notification as failed
