"""The rows a notification becomes, defined once for both write paths.

The general way (whatsapp.services and its handlers) builds model instances from these; the fast
path (whatsapp.fast_path) sends the very same values as its statement's parameters, and takes
every other column's value from the model's default.
"""

from django.utils import timezone

from whatsapp.models import Message
from whatsapp.notifications import Envelope, MessageNotification

QUOTED_CHARS = 1000  # a reply shows the start of what it quotes; the whole is in its notification


def notification_columns(*, env: Envelope, raw: bytes, key: str, outcome: str, detail: str) -> dict[str, object]:
    """What a kept notification says, as Notification columns; the rest keep their defaults."""
    return {
        "type_webhook": env.type_webhook[:64],
        "instance_id": env.instance_id,
        "id_message": env.id_message,
        "dedupe_key": key,
        "body": raw.decode("utf-8"),
        "outcome": outcome,
        "detail": detail[:2000],
        "processed_at": timezone.now(),
    }


def is_outbound(parsed: MessageNotification) -> bool:
    return parsed.envelope.type_webhook != "incomingMessageReceived"


def message_columns(parsed: MessageNotification) -> dict[str, object]:
    """What a message notification says, as Message columns; the rest keep their defaults."""
    content = parsed.content
    envelope = parsed.envelope
    outbound = is_outbound(parsed)
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


def message_from(
    parsed: MessageNotification, *, client_id: object, notification_id: int | None, author_id: object = None
) -> Message:
    """The Message row a message notification becomes (`author_id`: a group's participant)."""
    return Message(client_id=client_id, author_id=author_id, notification_id=notification_id, **message_columns(parsed))


def client_name(parsed: MessageNotification) -> str:
    """The name a client created from this message gets."""
    # In outgoing notifications senderName is our own business, not the client.
    return "" if is_outbound(parsed) else parsed.sender_name[:255]
