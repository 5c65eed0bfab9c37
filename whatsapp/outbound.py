"""Messages we send: stored first, then handed to Green API, then tied to what its webhooks say."""

import logging

from django.db import IntegrityError, transaction

from clients.models import Client
from clients.services import client_find_or_create_by_phone
from crm.db import lock_key
from whatsapp.greenapi import GreenAPI, GreenAPIError
from whatsapp.models import Message
from whatsapp.statuses import apply_waiting_statuses

logger = logging.getLogger(__name__)

MAX_TEXT = 20_000  # Green API's limit for sendMessage (REFERENCE §10)


def chat_id_of(client: Client) -> str:
    if client.whatsapp_id:
        return f"{client.whatsapp_id}@c.us"
    if client.whatsapp_lid:
        return f"{client.whatsapp_lid}@lid"
    raise GreenAPIError(f"{client} has no WhatsApp number: add one to the client first.")


def _text_checked(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise ValueError(f"The text must have 1 to {MAX_TEXT} characters.")
    return text


def message_send(*, client: Client, text: str, quoted_external_id: str = "") -> Message:
    """Send `text` to the client. The message is stored at once as pending, so it is never lost
    even if Green API hangs; then it becomes `sent` with Green API's idMessage, or `failed` with the
    reason (and GreenAPIError is raised). Later webhooks for that idMessage update this same row.
    A bad text (ValueError) or Green API not configured (GreenAPINotConfigured) writes nothing.
    """
    text = _text_checked(text)
    api = GreenAPI.from_settings()
    message = Message.objects.create(
        client=client,
        direction=Message.Direction.OUTBOUND,
        type_message="textMessage",
        content=text,
        status=Message.Status.PENDING,
        chat_id=chat_id_of(client),
        instance_id=api.instance_number,
        quoted_external_id=quoted_external_id,
    )
    try:
        id_message = api.send_message(message.chat_id, text, quoted_external_id)
    except GreenAPIError as error:
        Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
            status=Message.Status.FAILED, status_description=str(error)
        )
        message.refresh_from_db()
        logger.warning("Sending to client %s failed: %s", client.pk, error)
        raise
    return _message_sent(message, id_message)


def message_send_to_phone(*, phone: str, text: str) -> Message:
    """Send to a phone number (digits, as clients.phones.to_whatsapp_id gives them), finding its
    client or creating it. The client is created only once the message could go: a bad text or
    Green API not configured raises before anything is written."""
    _text_checked(text)
    GreenAPI.from_settings()
    client, _ = client_find_or_create_by_phone(phone=phone)
    return message_send(client=client, text=text)


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
            message.delete()
            webhook_row.quoted_external_id = webhook_row.quoted_external_id or message.quoted_external_id
            webhook_row.save(update_fields=["quoted_external_id", "updated_at"])
            return webhook_row
        Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(status=Message.Status.SENT)
        message.refresh_from_db()
        apply_waiting_statuses(message)
    message.refresh_from_db()
    return message
