"""incomingMessageReceived, outgoingMessageReceived, outgoingAPIMessageReceived: a message of a
client, stored once per idMessage, or the edit, deletion or reaction it makes to one stored."""

from collections.abc import Callable

from django.utils import timezone

from clients.models import Client
from clients.services import (
    client_find_or_create_by_group,
    client_find_or_create_by_lid,
    client_find_or_create_by_phone,
)
from crm.db import insert_or_skip, lock_key
from whatsapp import logs
from whatsapp.hours import auto_reply_consider
from whatsapp.media import media_enqueue
from whatsapp.models import Message, Notification
from whatsapp.notifications import ChatId, Malformed, MessageNotification
from whatsapp.rows import client_name, is_outbound, message_from
from whatsapp.statuses import apply_waiting_statuses

Outcome = Notification.Outcome


def message_receive(parsed: MessageNotification, notification: Notification) -> tuple[str, str]:
    content = parsed.content
    if content.target_id and content.type_message in LIFECYCLE:
        original = message_by_external_id(parsed.envelope.instance_id, content.target_id)
        if original is not None:
            LIFECYCLE[content.type_message](original, parsed)
            logs.log_applied(content.type_message, original.id)
            return Outcome.PROCESSED, f"{content.type_message} of {original.external_id}"
        # The original predates us (or is lost): keep the change as a message of its own.
    client, author = conversation_of(parsed)
    outbound = is_outbound(parsed)
    message = message_from(
        parsed, client_id=client.pk, author_id=author.pk if author else None, notification_id=notification.pk
    )
    if outbound:
        # A status for this idMessage may be committing right now (see statuses.status_apply).
        lock_key(parsed.envelope.instance_id, parsed.envelope.id_message)
    if not insert_or_skip(message):
        return merge_repeat(message, parsed)
    media_enqueue(message=message, thumbnail=content.thumbnail)
    auto_reply_consider(parsed=parsed, message=message)
    if outbound:
        apply_waiting_statuses(message)
    who = client.whatsapp_id or client.whatsapp_lid or client.whatsapp_group or ""
    logs.log_processed(parsed, client_id=client.pk, who=who)
    return Outcome.PROCESSED, ""  # the message links back to its notification


def conversation_of(parsed: MessageNotification) -> tuple[Client, Client | None]:
    """The client whose conversation the message is, and its author: in a group chat the group's
    client, and the participant who wrote (a client too, found or made by their number or lid; none
    when we wrote); in a chat of one person that person, and no author. The one rule for every way
    a message arrives: the webhook, the notification queue, polling and the backfill all come here
    (the fast path takes no group message)."""
    if not parsed.is_group:
        return _person_client(parsed, parsed.person), None
    if is_outbound(parsed):
        author = None  # our own business wrote it (from the phone, or through the API)
    else:
        author = _person_client(parsed, parsed.person)
    group, _ = client_find_or_create_by_group(group=parsed.chat.value, name=parsed.chat_name[:255])
    return group, author


def _person_client(parsed: MessageNotification, person: ChatId | None) -> Client:
    if person is None:
        raise Malformed(f"group message without a participant: sender {parsed.sender.raw if parsed.sender else ''!r}")
    name = client_name(parsed)
    if person.kind == "lid":
        client, _ = client_find_or_create_by_lid(lid=person.value, name=name)
        return client
    logs.log_extracted(person)
    client, _ = client_find_or_create_by_phone(phone=person.value, name=name)
    return client


def merge_repeat(message: Message, parsed: MessageNotification) -> tuple[str, str]:
    """The idMessage is stored already: from our own send (pending/sent), or both outgoing kinds."""
    existing = message_by_external_id(message.instance_id, message.external_id)
    changed = [f for f in ("content", "chat_id", "type_message") if not getattr(existing, f)]
    for field in changed:
        setattr(existing, field, getattr(message, field))
    # WhatsApp's own time replaces the one we gave the row when we stored it (our send's moment):
    # the conversation is ordered by it.
    written = parsed.envelope.timestamp
    if written and existing.sent_at != written:
        existing.sent_at = written
        changed.append("sent_at")
    if existing.advance_status(message.status):
        changed += ["status", "status_description"]
    if changed:
        existing.save(update_fields=[*changed, "updated_at"])
    # Its file, if it has one and no download yet (a message kept before its type was known).
    media_enqueue(message=existing, thumbnail=parsed.content.thumbnail)
    logs.log_already_stored(existing.external_id, bool(changed))
    return Outcome.PROCESSED, f"already stored as message {existing.id}"


def message_by_external_id(instance_id: int, external_id: str) -> Message | None:
    return (
        Message.objects.select_for_update()
        .filter(channel=Message.CHANNEL, instance_id=instance_id, external_id=external_id)
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


# The typeMessages that change a stored message instead of being one (content.target_id names it).
LIFECYCLE: dict[str, Callable[[Message, MessageNotification], None]] = {
    "editedMessage": _edit,
    "deletedMessage": _delete,
    "reactionMessage": _react,
}
