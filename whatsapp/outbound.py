"""Messages we send: stored first, then handed to Green API, then tied to what its webhooks say."""

import logging
from collections.abc import Callable

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from clients.models import Client
from clients.services import client_find_or_create_by_phone
from crm.db import lock_key
from whatsapp.attachments import Attachment
from whatsapp.content import CONTENT_PARSERS
from whatsapp.greenapi import GreenAPI, GreenAPIError
from whatsapp.media import media_enqueue, media_keep_upload
from whatsapp.models import MediaFile, Message
from whatsapp.statuses import apply_waiting_statuses

logger = logging.getLogger(__name__)

MAX_TEXT = 20_000  # Green API's limit for sendMessage (REFERENCE §10)


def chat_id_of(client: Client) -> str:
    if client.whatsapp_group:
        return f"{client.whatsapp_group}@g.us"  # sendMessage takes a group's chatId (REFERENCE §10)
    if client.whatsapp_id:
        return f"{client.whatsapp_id}@c.us"
    if client.whatsapp_lid:
        return f"{client.whatsapp_lid}@lid"
    raise GreenAPIError(f"{client} has no WhatsApp number: add one to the client first.")


def _text_checked(text: str, *, caption: bool = False) -> str:
    """The text, or a file's caption (which may be empty)."""
    text = text.strip()
    if caption and len(text) <= MAX_TEXT:
        return text
    if not text or len(text) > MAX_TEXT:
        raise ValueError(f"The text must have 1 to {MAX_TEXT} characters.")
    return text


def message_send(
    *, client: Client, text: str, quoted_external_id: str = "", attachment: Attachment | None = None
) -> Message:
    """Send `text` to the client, or the `attachment` with `text` as its caption. The message is
    stored at once as pending, so it is never lost even if Green API hangs; then it becomes `sent`
    with Green API's idMessage, or `failed` with the reason (and GreenAPIError is raised). Later
    webhooks for that idMessage update this same row.
    A bad text (ValueError) or Green API not configured (GreenAPINotConfigured) writes nothing.
    """
    if attachment is not None:
        return _file_send(client=client, caption=text, attachment=attachment)
    return message_deliver(message=message_store(client=client, text=text, quoted_external_id=quoted_external_id))


def message_store(*, client: Client, text: str, quoted_external_id: str = "") -> Message:
    """The first half of message_send: the text stored as pending, not sent yet. For a caller that
    must commit the message with rows of its own before it goes (the automatic reply, whatsapp/hours.py)."""
    text = _text_checked(text)
    api = GreenAPI.from_settings()
    return Message.objects.create(
        client=client,
        direction=Message.Direction.OUTBOUND,
        type_message="textMessage",
        content=text,
        status=Message.Status.PENDING,
        chat_id=chat_id_of(client),
        instance_id=api.instance_number,
        quoted_external_id=quoted_external_id,
    )


def message_deliver(*, message: Message) -> Message:
    """The second half: a stored pending text handed to Green API's sendMessage; `sent`, or `failed`
    with the reason (and GreenAPIError is raised)."""
    api = GreenAPI.from_settings()
    try:
        id_message = api.send_message(message.chat_id, message.content, message.quoted_external_id)
    except GreenAPIError as error:
        _message_failed(message, error)
        raise
    return _message_sent(message, id_message)


class ClientNotVisible(LookupError):
    """The number is a client the sender may not see (another manager's): as if there were none."""


def message_send_to_phone(
    *,
    phone: str,
    text: str,
    attachment: Attachment | None = None,
    visible: QuerySet[Client] | None = None,
    started: Callable[[Client], None] | None = None,
) -> Message:
    """Send to a phone number (digits, as clients.phones.to_whatsapp_id gives them), finding its
    client or creating it. The client is created only once the message could go: a bad text or
    Green API not configured raises before anything is written.

    `visible`: the clients the sender may answer; the number's client outside them raises
    ClientNotVisible before anything is written or sent. `started` is called with a client made
    here once its first message is stored (sent or failed), in its own transaction."""
    _text_checked(text, caption=attachment is not None)
    GreenAPI.from_settings()
    client, created = client_find_or_create_by_phone(phone=phone)  # finding one writes nothing
    if not created and visible is not None and not visible.filter(pk=client.pk).exists():
        raise ClientNotVisible(phone)
    try:
        return message_send(client=client, text=text, attachment=attachment)
    finally:
        if created and started is not None and Message.objects.filter(client=client).exists():
            started(client)


def _message_failed(message: Message, error: GreenAPIError) -> None:
    Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
        status=Message.Status.FAILED, status_description=str(error)
    )
    message.refresh_from_db()
    logger.warning("Sending to client %s failed: %s", message.client_id, error)


def _file_send(*, client: Client, caption: str, attachment: Attachment) -> Message:
    """A file, stored first like a text (pending, then sent or failed) and kept in our storage: an
    upload before it goes, a link by the worker (media_enqueue) while Green API fetches it too."""
    caption = _text_checked(caption, caption=True)
    api = GreenAPI.from_settings()
    chat_id = chat_id_of(client)
    with transaction.atomic():
        message = _file_message_stored(client, chat_id, api, caption, attachment)
    try:
        if attachment.file is not None:
            with default_storage.open(message.media.file.name, "rb") as kept:
                id_message, url = api.send_file_by_upload(chat_id, kept, attachment.file_name, caption)
        else:
            id_message, url = api.send_file_by_url(chat_id, attachment.url, attachment.file_name, caption)
    except GreenAPIError as error:
        _message_failed(message, error)
        raise
    # Green API's own link to what it sent (its storage, 15 days); ours is the MediaFile.
    if url.startswith(("https://", "http://")):
        Message.objects.filter(pk=message.pk).update(media_url=url[:2048])
    return _message_sent(message, id_message)


def _file_message_stored(client: Client, chat_id: str, api: GreenAPI, caption: str, attachment: Attachment) -> Message:
    kind = attachment.type_message
    # The text a person reads, as for a file received: the caption, or "📄 Document: name".
    text = CONTENT_PARSERS[kind]({"fileMessageData": {"caption": caption, "fileName": attachment.file_name}}, kind)
    message = Message.objects.create(
        client=client,
        direction=Message.Direction.OUTBOUND,
        type_message=kind,
        content=text.text,
        status=Message.Status.PENDING,
        chat_id=chat_id,
        instance_id=api.instance_number,
        media_url=attachment.url,
        file_name=attachment.file_name,
        mime_type=attachment.content_type,
    )
    if attachment.file is None:
        media_enqueue(message=message)
    else:
        file, name, content_type = attachment.file, attachment.file_name, attachment.content_type
        media_keep_upload(message=message, file=file, file_name=name, content_type=content_type)
    return message


def _media_moved(placeholder: Message, webhook_row: Message) -> None:
    """Our copy of a file we sent belongs to the row that stays; the one the webhook asked to
    download (its own copy of the same file) is not needed."""
    if not MediaFile.objects.filter(message=placeholder).exists():
        return
    for duplicate in MediaFile.objects.filter(message=webhook_row):
        if duplicate.file:
            default_storage.delete(duplicate.file.name)
        duplicate.delete()  # its job finds no media and ends
    MediaFile.objects.filter(message=placeholder).update(message=webhook_row)


def _message_sent(message: Message, id_message: str) -> Message:
    with transaction.atomic():
        # The same lock message_receive takes for outbound idMessages: its webhook and this are
        # applied one after the other, whichever comes first.
        lock_key(message.instance_id, id_message)
        try:
            with transaction.atomic():
                Message.objects.filter(pk=message.pk).update(external_id=id_message)
        except IntegrityError:
            # outgoingAPIMessageReceived for this idMessage was processed before Green API's answer
            # reached us: that row is the message; ours was only its placeholder.
            webhook_row = Message.objects.select_for_update().get(
                channel=message.channel, instance_id=message.instance_id, external_id=id_message
            )
            _media_moved(message, webhook_row)
            message.delete()
            webhook_row.quoted_external_id = webhook_row.quoted_external_id or message.quoted_external_id
            webhook_row.save(update_fields=["quoted_external_id", "updated_at"])
            return webhook_row
        Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(status=Message.Status.SENT)
        message.refresh_from_db()
        apply_waiting_statuses(message)
    message.refresh_from_db()
    return message
