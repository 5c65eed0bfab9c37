"""outgoingMessageStatus: a message we sent moves forward (sent → delivered → read), never back."""

from django.db.models import QuerySet
from django.utils import timezone

from clients.services import client_link_lid
from crm.db import lock_key
from whatsapp import fields, logs
from whatsapp.models import Message, Notification
from whatsapp.notifications import NotProcessed, StatusNotification, parse_status, read, unwrap

Outcome = Notification.Outcome


def status_apply(parsed: StatusNotification, notification: Notification) -> tuple[str, str]:
    """Move the outbound message's status forward; keep it waiting when the message is not here yet."""
    if parsed.status not in Message.STATUS_RANK:
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
    if _messages(env.instance_id, env.id_message).exists():
        return Outcome.PROCESSED, status_not_ahead(parsed.status)
    logs.log_warning("status %s for unknown message %s: waiting for the message", parsed.status, env.id_message)
    return Outcome.WAITING, f"{parsed.status}: message {env.id_message} not stored yet"


def status_not_ahead(status: str) -> str:
    return f"{status}: not ahead of the stored status, kept"


def _messages(instance_id: int, external_id: str) -> QuerySet[Message]:
    return Message.objects.filter(channel=Message.CHANNEL, instance_id=instance_id, external_id=external_id)


def _status_update(instance_id: int, external_id: str, status: str, description: str) -> bool:
    # One conditional UPDATE: statuses arriving at once for one message can only move it forward.
    behind = _messages(instance_id, external_id).filter(status__in=Message.statuses_behind(status))
    return bool(behind.update(status=status, status_description=description, updated_at=timezone.now()))


def _link_lid_from_status(parsed: StatusNotification) -> None:
    """A status with a `@lid` chatId for a message we sent to a phone tells us who that lid is."""
    if parsed.chat is None or parsed.chat.kind != "lid":
        return
    env = parsed.envelope
    message = _messages(env.instance_id, env.id_message).select_related("client").first()
    if message and client_link_lid(client=message.client, lid=parsed.chat.value):
        logs.log_linked(parsed.chat.value, message.client.id)


def apply_waiting_statuses(message: Message) -> None:
    """The statuses that arrived before `message` and were kept waiting for it, applied now."""
    waiting = Notification.objects.select_for_update().filter(
        outcome=Outcome.WAITING,
        type_webhook="outgoingMessageStatus",
        instance_id=message.instance_id,
        id_message=message.external_id,
    )
    for notification in waiting:
        parsed = parse_status(*read(unwrap(fields.loads(notification.body))))
        if parsed.status in Message.STATUS_RANK:
            _status_update(message.instance_id, message.external_id, parsed.status, parsed.description)
            _link_lid_from_status(parsed)
        notification.finish(Outcome.PROCESSED, f"{parsed.status}: applied when its message arrived")
