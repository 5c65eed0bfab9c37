"""A message of Green API's history, read as the webhook's notification of the same message.

lastIncomingMessages, lastOutgoingMessages, getChatHistory and getMessage give each message as a
flat object (REFERENCE §15): `{type, idMessage, timestamp, typeMessage, chatId, senderId, …}`
with the text and file beside them, not the webhook's envelope with `senderData` and
`messageData`. `as_notification` writes the envelope around it, so the one parser of
`whatsapp.notifications` reads both, and the backfill stores what the webhook would have.
"""

from typing import Any

from whatsapp.fields import as_dict, as_str

# The flat history's key for a part → where the webhook's messageData keeps it (REFERENCE §3, §15).
_PART_KEYS = {
    "location": "locationMessageData",
    "contact": "contactMessageData",
    "extendedTextMessage": "extendedTextMessageData",
}
_FILE_KEYS = ("downloadUrl", "caption", "fileName", "mimeType", "jpegThumbnail", "isAnimated", "videoNote")
# Of the history's own keys, those about the envelope or its state, not what the message says.
_ENVELOPE_KEYS = {
    "type",
    "idMessage",
    "timestamp",
    "typeMessage",
    "chatId",
    "senderId",
    "senderName",
    "senderContactName",
    "chatName",
    "statusMessage",
    "sendByApi",
    "deletedMessageId",
    "editedMessageId",
    "isEdited",
    "isDeleted",
    "textMessage",
    *_FILE_KEYS,
    *_PART_KEYS,
}


def type_webhook_of(item: dict) -> str:
    """The notification the webhook gets for this message (REFERENCE §2)."""
    if as_str(item.get("type")) != "outgoing":
        return "incomingMessageReceived"
    return "outgoingAPIMessageReceived" if item.get("sendByApi") is True else "outgoingMessageReceived"


def as_notification(item: dict, *, instance_id: int, wid: str = "", source: str = "") -> dict:
    """The webhook's body for the history's `item`; `source` (the method it came from) is kept
    in it, with the item as received, for whoever reads the notification later."""
    chat_id = as_str(item.get("chatId"))
    body: dict[str, Any] = {
        "typeWebhook": type_webhook_of(item),
        "instanceData": {"idInstance": instance_id, "wid": wid, "typeInstance": "whatsapp"},
        "timestamp": item.get("timestamp"),
        "idMessage": item.get("idMessage"),
        "senderData": {
            "chatId": chat_id,
            # Outgoing messages are sent by us; the webhook's `sender` is then our own wid (§1).
            "sender": as_str(item.get("senderId"))
            or (wid if type_webhook_of(item) != "incomingMessageReceived" else chat_id),
            "senderName": as_str(item.get("senderName")),
            "senderContactName": as_str(item.get("senderContactName")),
            "chatName": as_str(item.get("chatName")),
        },
        "messageData": message_data_of(item),
        "recoveredFrom": source or "history",
        "historyMessage": item,
    }
    return body


def message_data_of(item: dict) -> dict:
    kind = as_str(item.get("typeMessage"))
    data: dict[str, Any] = {"typeMessage": kind}
    text = item.get("textMessage")
    if "textMessage" in item:
        data["textMessageData"] = {"textMessage": text}
    if any(key in item for key in _FILE_KEYS):
        data["fileMessageData"] = {key: item[key] for key in _FILE_KEYS if key in item}
    for flat, nested in _PART_KEYS.items():
        if isinstance(item.get(flat), dict):
            data[nested] = dict(item[flat])
    extended = as_dict(data.get("extendedTextMessageData"))
    if extended and not as_str(extended.get("text")) and as_str(text):
        extended["text"] = text  # the history keeps an extended text's words in textMessage too
    if isinstance(item.get("contacts"), list):
        data["messageData"] = {"contacts": item["contacts"]}  # as contactsArrayMessage nests them (§3)
    for key, value in item.items():
        # Anything else already in the webhook's shape (pollMessageData, quotedMessage, …) as it is.
        if key not in _ENVELOPE_KEYS and key not in data and key != "contacts":
            data[key] = value
    return data
