"""What happens to a Green API notification: kept first, then turned into messages and states."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from clients.models import Client
from clients.services import (
    client_find_or_create_by_lid,
    client_find_or_create_by_phone,
    client_link_lid,
)
from crm.db import insert_or_skip, lock_key
from crm.log import Masked, step
from whatsapp import fast_path, fields, logs
from whatsapp.models import Instance, Message, Notification
from whatsapp.notifications import (
    ChatId,
    InstanceNotification,
    Malformed,
    MessageNotification,
    StatusNotification,
    dedupe_key,
    envelope_of,
    parse,
    unwrap,
)

logger = logging.getLogger("whatsapp.webhook")
Outcome = Notification.Outcome


@dataclass(frozen=True)
class Receipt:
    notification_id: int
    outcome: str
    detail: str
    duplicate: bool


class NotProcessed(Exception):
    """A notification that is well-formed but has nothing for us to do; kept as ignored."""


def notification_receive(*, raw: bytes, body: dict, replay: bool = False) -> Receipt:
    """Keep the notification and process it, committing both together or keeping it as failed.

    The common case is one transaction: the notification row (already marked processed) and what
    it produced. When processing fails, that transaction rolls back whole and the notification is
    stored on its own, marked failed with the error, for `replay_notifications`: nothing is lost and
    nothing is half-written. A dead database raises (the view answers 503; Green API redelivers).
    A savepoint would give the same guarantee at two more round trips on every notification.
    """
    body = unwrap(body)
    envelope = envelope_of(body)
    key = dedupe_key(body, raw, envelope)
    kind = envelope.type_webhook
    if kind in IGNORED:
        return _store_outcome(raw=raw, body=body, key=key, outcome=Outcome.IGNORED, detail=IGNORED[kind], replay=replay)
    try:
        parsed = parse(body, envelope)
    except Malformed as reason:
        logs.log_warning(f"notification {kind or '?'} {envelope.id_message} ignored: {reason}")
        return _store_outcome(raw=raw, body=body, key=key, outcome=Outcome.IGNORED, detail=str(reason), replay=replay)
    stored = None if replay else fast_path.store(parsed, raw=raw, key=key)
    if stored is not None:
        return Receipt(*stored)
    try:
        with transaction.atomic():
            notification, created = _notification_store(raw=raw, body=body, key=key, replay=replay)
            if not created and not replay and _done(notification, parsed):
                log_duplicate(parsed, notification.outcome)
                return Receipt(notification.pk, notification.outcome, notification.detail, duplicate=True)
            outcome, detail = HANDLERS[kind](parsed, notification)
            if not created or (outcome, detail) != (Outcome.PROCESSED, ""):
                _finish(notification, outcome, detail)
            return Receipt(notification.pk, outcome, detail, duplicate=False)
    except (OperationalError, InterfaceError):
        raise  # the database itself is unavailable: nothing was committed
    except (Malformed, NotProcessed) as reason:
        logs.log_warning(f"notification {kind} {parsed.envelope.id_message} ignored: {reason}")
        return _store_outcome(raw=raw, body=body, key=key, outcome=Outcome.IGNORED, detail=str(reason), replay=replay)
    except Exception as error:  # noqa: BLE001 - any bug or constraint in processing must not lose the notification
        what = f"{kind} {parsed.envelope.id_message}"
        logs.log_error(what, error, traceback=not isinstance(error, DatabaseError))
        return _store_outcome(
            raw=raw,
            body=body,
            key=key,
            outcome=Outcome.FAILED,
            detail=f"{type(error).__name__}: {error}",
            replay=replay,
        )


def _done(notification: Notification, parsed: MessageNotification | StatusNotification | InstanceNotification) -> bool:
    """Whether a redelivery is answered as done. Failed and waiting notifications are retried, and so
    is a message notification whose message is gone: deleted since, by `clear_whatsapp_messages` or
    the guide's `DELETE FROM messages`, after which the guide sends its test webhook again."""
    if notification.outcome in (Outcome.FAILED, Outcome.WAITING):
        return False
    if notification.outcome == Outcome.PROCESSED and isinstance(parsed, MessageNotification):
        # The message it stored, or the one its edit, deletion or reaction was applied to.
        ids = {parsed.envelope.id_message, parsed.content.target_id} - {""}
        return Message.objects.filter(
            channel="whatsapp", instance_id=parsed.envelope.instance_id, external_id__in=ids
        ).exists()
    return True


def notification_replay(*, notification: Notification) -> Receipt:
    """Process a kept notification again (after a fix). Safe to repeat: every step is idempotent."""
    raw = notification.body.encode("utf-8")
    try:
        body = fields.loads(raw)
    except ValueError as error:
        return _store_outcome(
            raw=raw,
            body={},
            key=notification.dedupe_key,
            outcome=Outcome.IGNORED,
            detail=f"body is not JSON: {error}",
            replay=True,
        )
    return notification_receive(raw=raw, body=body, replay=True)


def _notification_store(
    *, raw: bytes, body: dict, key: str, outcome: str = Outcome.PROCESSED, detail: str = "", replay: bool = False
) -> tuple[Notification, bool]:
    env = envelope_of(body)
    row = Notification(
        type_webhook=env.type_webhook[:64],
        instance_id=env.instance_id,
        id_message=env.id_message,
        dedupe_key=key,
        body=raw.decode("utf-8"),
        outcome=outcome,
        detail=detail[:2000],
        processed_at=timezone.now(),
    )
    if insert_or_skip(row):
        return row, True
    # A redelivery: count it, and take the row as it is now (locked, so a concurrent first delivery
    # has committed its outcome before we decide whether anything is left to do).
    if not replay:
        Notification.objects.filter(dedupe_key=key).update(deliveries=F("deliveries") + 1)
    return Notification.objects.select_for_update().get(dedupe_key=key), False


def _store_outcome(*, raw: bytes, body: dict, key: str, outcome: str, detail: str, replay: bool = False) -> Receipt:
    """Keep a notification that was not (or could not be) processed, with the reason."""
    with transaction.atomic():
        notification, created = _notification_store(
            raw=raw, body=body, key=key, outcome=outcome, detail=detail, replay=replay
        )
        # A concurrent delivery of the same notification may have processed it meanwhile: keep that.
        if not created and notification.outcome != Outcome.PROCESSED:
            _finish(notification, outcome, detail)
    return Receipt(notification.pk, notification.outcome, notification.detail, duplicate=not created)


def _finish(notification: Notification, outcome: str, detail: str) -> None:
    notification.outcome = outcome
    notification.detail = detail[:2000]
    notification.processed_at = timezone.now()
    notification.save(update_fields=["outcome", "detail", "processed_at"])


# ---------------------------------------------------------------------------------------------
# Messages.


def message_receive(parsed: MessageNotification, notification: Notification) -> tuple[str, str]:
    """incomingMessageReceived / outgoingMessageReceived / outgoingAPIMessageReceived."""
    content = parsed.content
    if content.target_id and content.type_message in LIFECYCLE:
        original = _message_by_external_id(parsed.envelope.instance_id, content.target_id)
        if original is not None:
            LIFECYCLE[content.type_message](original, parsed)
            step(logger, "%s applied to message %s", content.type_message, original.id)
            return (
                Outcome.PROCESSED,
                f"{content.type_message} of {original.external_id}",
            )
        # The original predates us (or is lost): keep the change as a message of its own.
    client = _client_for(parsed)
    outbound = parsed.envelope.type_webhook != "incomingMessageReceived"
    message = message_from(parsed, client_id=client.pk, notification_id=notification.pk)
    if outbound:
        # A status for this idMessage may be committing right now (see status_apply).
        lock_key(parsed.envelope.instance_id, parsed.envelope.id_message)
    if not insert_or_skip(message):
        return _merge_repeat(message, parsed)
    if outbound:
        apply_waiting_statuses(message)
    log_processed(parsed, client_id=client.pk, who=client.whatsapp_id or client.whatsapp_lid or "")
    return Outcome.PROCESSED, ""  # the message links back to its notification


def message_from(parsed: MessageNotification, *, client_id: object, notification_id: int | None) -> Message:
    """The Message row a message notification becomes (the fast path writes the same columns)."""
    return Message(client_id=client_id, notification_id=notification_id, **message_columns(parsed))


QUOTED_CHARS = 1000  # a reply shows the start of what it quotes; the whole is in its notification


def message_columns(parsed: MessageNotification) -> dict[str, object]:
    """What a message notification says, as Message columns; the rest keep their defaults.

    Shared by both ways of storing a message: `message_from` here, and the one statement of
    `whatsapp.fast_path`, which sends these as its parameters.
    """
    content = parsed.content
    envelope = parsed.envelope
    outbound = envelope.type_webhook != "incomingMessageReceived"
    return {
        "direction": (Message.Direction.OUTBOUND if outbound else Message.Direction.INBOUND).value,
        "type_message": content.type_message[:64],
        "content": content.text,
        "external_id": envelope.id_message,
        "instance_id": envelope.instance_id,
        "status": (Message.Status.SENT if outbound else Message.Status.RECEIVED).value,
        "chat_id": parsed.chat.raw[:128],
        "chat_name": parsed.chat_name[:255] if parsed.is_group else "",
        "sender_name": parsed.sender_name[:255],
        "media_url": content.media_url[:2048],
        "file_name": content.file_name[:512],
        "mime_type": content.mime_type[:128],
        "latitude": content.latitude,
        "longitude": content.longitude,
        "quoted_external_id": content.quoted_id[:128],
        "quoted_content": content.quoted_text[:QUOTED_CHARS],
        "quoted_sender": content.quoted_sender[:128],
        "sent_at": envelope.timestamp or timezone.now(),  # the conversation is ordered by it
    }


def log_duplicate(parsed: MessageNotification | StatusNotification | InstanceNotification, outcome: str) -> None:
    step(
        logger,
        "Duplicate notification %s %s: already %s",
        parsed.envelope.type_webhook,
        parsed.envelope.id_message,
        outcome,
    )


def log_extracted(person: ChatId) -> None:
    step(logger, "Extracted phone number from chatId %s: %s", Masked(person.raw), Masked(person.value))


def log_processed(parsed: MessageNotification, *, client_id: object, who: str) -> None:
    outbound = parsed.envelope.type_webhook != "incomingMessageReceived"
    step(
        logger,
        "%s message processed: %s from client %s (%s)",
        "Outgoing" if outbound else "Incoming",
        parsed.envelope.id_message,
        client_id,
        Masked(who),
    )


def _client_for(parsed: MessageNotification) -> Client:
    person: ChatId | None = parsed.person
    if person is None:
        raise Malformed(f"group message without a participant: sender {parsed.sender.raw if parsed.sender else ''!r}")
    name = client_name(parsed)
    if person.kind == "lid":
        client, _ = client_find_or_create_by_lid(lid=person.value, name=name)
        return client
    log_extracted(person)
    client, _ = client_find_or_create_by_phone(phone=person.value, name=name)
    return client


def client_name(parsed: MessageNotification) -> str:
    """The name a client created from this message gets (the fast path creates them too)."""
    outbound = parsed.envelope.type_webhook != "incomingMessageReceived"
    # In outgoing notifications senderName is our own business, not the client.
    return "" if outbound else parsed.sender_name[:255]


def _merge_repeat(message: Message, parsed: MessageNotification) -> tuple[str, str]:
    """The idMessage is stored already: from our own send (pending/sent), or both outgoing kinds."""
    existing = Message.objects.select_for_update().get(
        channel=message.channel,
        instance_id=message.instance_id,
        external_id=message.external_id,
    )
    changed = [f for f in ("content", "chat_id", "type_message", "sent_at") if not getattr(existing, f)]
    for field in changed:
        setattr(existing, field, getattr(message, field))
    if existing.advance_status(message.status):
        changed += ["status", "status_description"]
    if changed:
        existing.save(update_fields=[*changed, "updated_at"])
    step(
        logger,
        "Message %s already stored; %s",
        existing.external_id,
        "updated" if changed else "unchanged",
    )
    return Outcome.PROCESSED, f"already stored as message {existing.id}"


def _message_by_external_id(instance_id: int, external_id: str) -> Message | None:
    return (
        Message.objects.select_for_update()
        .filter(channel="whatsapp", instance_id=instance_id, external_id=external_id)
        .first()
    )


def _edit(original: Message, parsed: MessageNotification) -> None:
    original.edit(parsed.content.text, parsed.envelope.timestamp or timezone.now())
    original.save(update_fields=["content", "previous_contents", "edited_at", "updated_at"])


def _delete(original: Message, parsed: MessageNotification) -> None:
    # The content stays: staff must still see what the client wrote and then withdrew.
    original.deleted_at = original.deleted_at or parsed.envelope.timestamp or timezone.now()
    original.save(update_fields=["deleted_at", "updated_at"])


def _react(original: Message, parsed: MessageNotification) -> None:
    original.reaction = parsed.content.text[:32]  # "" when the reaction is taken back
    original.save(update_fields=["reaction", "updated_at"])


LIFECYCLE: dict[str, Callable[[Message, MessageNotification], None]] = {
    "editedMessage": _edit,
    "deletedMessage": _delete,
    "reactionMessage": _react,
}


# ---------------------------------------------------------------------------------------------
# Statuses.

_RANK = Message.STATUS_RANK


def status_apply(parsed: StatusNotification, notification: Notification) -> tuple[str, str]:
    """Move the outbound message's status forward; keep it waiting when the message is not here yet."""
    if parsed.status not in _RANK:
        raise NotProcessed(f"unknown status {parsed.status!r}")
    env = parsed.envelope
    if _status_update(env.instance_id, env.id_message, parsed.status, parsed.description):
        _link_lid_from_status(parsed)
        return Outcome.PROCESSED, ""
    lock_key(env.instance_id, env.id_message)
    # Under the lock, a message inserted concurrently has committed: look again.
    if _status_update(env.instance_id, env.id_message, parsed.status, parsed.description):
        _link_lid_from_status(parsed)
        return Outcome.PROCESSED, ""
    if Message.objects.filter(channel="whatsapp", instance_id=env.instance_id, external_id=env.id_message).exists():
        return Outcome.PROCESSED, status_not_ahead(parsed.status)
    logs.log_warning(f"status {parsed.status} for unknown message {env.id_message}: waiting for the message")
    return Outcome.WAITING, f"{parsed.status}: message {env.id_message} not stored yet"


def status_not_ahead(status: str) -> str:
    return f"{status}: not ahead of the stored status, kept"


def _status_update(instance_id: int, external_id: str, status: str, description: str) -> bool:
    # One conditional UPDATE: statuses arriving at once for one message can only move it forward.
    behind = [s for s, rank in _RANK.items() if rank < _RANK[status]]
    return bool(
        Message.objects.filter(
            channel="whatsapp",
            instance_id=instance_id,
            external_id=external_id,
            status__in=behind,
        ).update(status=status, status_description=description, updated_at=timezone.now())
    )


def _link_lid_from_status(parsed: StatusNotification) -> None:
    """A status with a `@lid` chatId for a message we sent to a phone tells us who that lid is."""
    if parsed.chat is None or parsed.chat.kind != "lid":
        return
    message = (
        Message.objects.select_related("client")
        .filter(
            channel="whatsapp",
            instance_id=parsed.envelope.instance_id,
            external_id=parsed.envelope.id_message,
        )
        .first()
    )
    if message and client_link_lid(client=message.client, lid=parsed.chat.value):
        step(logger, "Linked lid %s to client %s", parsed.chat.value, message.client.id)


def apply_waiting_statuses(message: Message) -> None:
    waiting = Notification.objects.select_for_update().filter(
        outcome=Outcome.WAITING,
        type_webhook="outgoingMessageStatus",
        instance_id=message.instance_id,
        id_message=message.external_id,
    )
    for notification in waiting:
        parsed = parse(fields.loads(notification.body))
        if isinstance(parsed, StatusNotification) and parsed.status in _RANK:
            _status_update(
                message.instance_id,
                message.external_id,
                parsed.status,
                parsed.description,
            )
            _link_lid_from_status(parsed)
        _finish(
            notification,
            Outcome.PROCESSED,
            f"{getattr(parsed, 'status', '')}: applied when its message arrived",
        )


# ---------------------------------------------------------------------------------------------
# Instance events.


def instance_event_record(parsed: InstanceNotification, notification: Notification) -> tuple[str, str]:
    env = parsed.envelope
    if not env.instance_id:
        raise Malformed("instanceData.idInstance is missing")
    at = env.timestamp or notification.received_at
    instance, _ = Instance.objects.select_for_update().get_or_create(id_instance=env.instance_id)
    kind = env.type_webhook
    if env.wid and instance.state_changed_at is None:
        instance.wid = env.wid[:64]
    if kind == "stateInstanceChanged" and parsed.state and _newer(instance.state_changed_at, at):
        # wid is "" while logged out (REFERENCE §6): the newest state says which number we are.
        instance.state, instance.state_changed_at, instance.wid = parsed.state[:32], at, env.wid[:64]
    elif kind == "statusInstanceChanged" and parsed.socket_status and _newer(instance.socket_changed_at, at):
        instance.socket_status, instance.socket_changed_at = (
            parsed.socket_status[:16],
            at,
        )
    elif kind == "deviceInfo" and parsed.device:
        # Some carry only `avatarInfo` (REFERENCE §6): no news of the device, which stays as known.
        instance.device = parsed.device
    elif kind == "quotaExceeded":
        instance.quota, instance.quota_exceeded_at = parsed.quota, at
    elif kind == "incomingBlock":
        instance.last_blocked_at = at
    instance.save()
    return Outcome.PROCESSED, _instance_event_detail(parsed)


def _instance_event_detail(parsed: InstanceNotification) -> str:
    kind = parsed.envelope.type_webhook
    return {
        "stateInstanceChanged": parsed.state,
        "statusInstanceChanged": parsed.socket_status,
        "incomingCall": f"call {parsed.call_status} from {parsed.call_from}",
        "outgoingCall": f"outgoing call {parsed.call_status} to {parsed.call_from}",  # `from` is the chat
        "deviceInfo": kind if parsed.device else "no deviceData: the device is kept as it was",
        "incomingBlock": f"blocked by {parsed.blocked_chat}",
        "quotaExceeded": str(parsed.quota.get("status", "")),
    }.get(kind, kind)


def _newer(stored: datetime | None, at: datetime) -> bool:
    return stored is None or at >= stored


# Kinds we know and deliberately do not act on; kept, and answered 200 so the queue moves on.
# None today (outgoingCall, once undocumented, is recorded as the incoming call is).
IGNORED: dict[str, str] = {}

HANDLERS: dict[str, Callable] = {
    "incomingMessageReceived": message_receive,
    "outgoingMessageReceived": message_receive,
    "outgoingAPIMessageReceived": message_receive,
    "outgoingMessageStatus": status_apply,
    "stateInstanceChanged": instance_event_record,
    "statusInstanceChanged": instance_event_record,
    "deviceInfo": instance_event_record,
    "quotaExceeded": instance_event_record,
    "incomingBlock": instance_event_record,
    "incomingCall": instance_event_record,
    "outgoingCall": instance_event_record,
}
