"""Green API notification JSON → small frozen dataclasses. Nothing past this module indexes raw dicts.

Lenient on optional fields (any of them may be missing, `""`, or a number written as a string:
REFERENCE §1, §12), strict on what we need (a message without a chat is `Malformed`), never a bare
KeyError. Sources for each shape: `../shared/greenapi/REFERENCE.md` §1–§7.
"""

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


class Malformed(ValueError):
    """The notification lacks something we need to act on it; it is kept and marked ignored."""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    return ""


def _clean(text: str) -> str:
    """What any database can store: no NUL characters, no lone surrogates (both valid JSON)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _timestamp(value: Any) -> datetime | None:
    seconds = _int(value)
    if seconds is None or seconds <= 0 or seconds > 10**14:
        return None
    if seconds > 10**11:  # milliseconds, as some senders write them
        seconds //= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Chat ids (REFERENCE §7): `79031234567@c.us`, `…:3@c.us`, `…@s.whatsapp.net`, `…@g.us`, `…@lid`.


@dataclass(frozen=True)
class ChatId:
    raw: str
    kind: str  # "phone", "group", "lid"
    value: str  # the digits of a phone, the group id, or the lid

    @property
    def phone(self) -> str | None:
        return self.value if self.kind == "phone" else None

    @property
    def lid(self) -> str | None:
        return self.value if self.kind == "lid" else None


def parse_chat_id(raw: Any) -> ChatId | None:
    raw = _str(raw).strip()
    if not raw:
        return None
    user, _, server = raw.partition("@")
    server = server.lower()
    if server == "g.us":
        return ChatId(raw, "group", raw)
    # `:3` is the sending device, not the number. What is left must be digits and nothing else:
    # `abc7916-123+4567xyz` is no one's number, and its digits would be someone else's.
    number = user.split(":")[0]
    if not (number.isascii() and number.isdigit()):
        return None
    if server == "lid":
        return ChatId(raw, "lid", number)
    if server in ("c.us", "s.whatsapp.net", ""):
        return ChatId(raw, "phone", number) if 5 <= len(number) <= 15 else None
    return None


# ---------------------------------------------------------------------------------------------
# Message content by typeMessage (REFERENCE §3, §4).

# What a person reads when the message has no text of its own.
_MEDIA_LABELS = {
    "imageMessage": "🖼 Photo",
    "videoMessage": "🎬 Video",
    "documentMessage": "📄 Document",
    "audioMessage": "🎤 Voice message",
    "stickerMessage": "Sticker",
}

# Error markers Green API puts where the text or file should be (REFERENCE §10). Shown as such,
# with what they mean, so staff know to ask the client again rather than see an empty bubble.
_PLACEHOLDERS = {
    "{{SWE001}}": "WhatsApp delivered this message empty; ask the client to send it again",
    "{{SWE002}}": "the file is larger than 100 MB and was not downloaded",
    "{{SWE003}}": "WhatsApp could not decrypt this message; ask the client to send it again",
}


def _explain_placeholder(text: str) -> str:
    stripped = text.strip()
    if stripped in _PLACEHOLDERS:
        return f"{stripped} ({_PLACEHOLDERS[stripped]})"
    return text


@dataclass(frozen=True)
class Content:
    type_message: str
    text: str = ""
    media_url: str = ""
    file_name: str = ""
    mime_type: str = ""
    latitude: float | None = None
    longitude: float | None = None
    quoted_id: str = ""  # the message this one replies to
    target_id: str = ""  # the message an edit, deletion or reaction changes


def _file(data: dict, kind: str) -> Content:
    file = _dict(data.get("fileMessageData"))
    url = _str(file.get("downloadUrl"))
    file_name = _str(file.get("fileName"))
    text = _str(file.get("caption"))
    if not text:
        label = _MEDIA_LABELS.get(kind, "📎 File")
        text = f"{label}: {file_name}" if kind == "documentMessage" and file_name else label
    if url.strip() in _PLACEHOLDERS:
        text = f"{text} — {_explain_placeholder(url)}"
        url = ""
    return Content(
        kind,
        text,
        media_url=url,
        file_name=file_name,
        mime_type=_str(file.get("mimeType")),
    )


def _text(data: dict, kind: str) -> Content:
    return Content(kind, _str(_dict(data.get("textMessageData")).get("textMessage")))


def _extended_text(data: dict, kind: str) -> Content:
    ext = _dict(data.get("extendedTextMessageData"))
    # Legacy `quotedMessage` type keeps the quoted id in extendedTextMessageData (REFERENCE §4).
    return Content(kind, _str(ext.get("text")), quoted_id=_str(ext.get("stanzaId")))


def _location(data: dict, kind: str) -> Content:
    loc = _dict(data.get("locationMessageData"))
    parts = [p for p in (_str(loc.get("nameLocation")), _str(loc.get("address"))) if p]
    lat, lon = _float(loc.get("latitude")), _float(loc.get("longitude"))
    text = "📍 " + (", ".join(parts) if parts else f"{lat}, {lon}")
    return Content(kind, text, latitude=lat, longitude=lon)


def _contact(data: dict, kind: str) -> Content:
    name = _str(_dict(data.get("contactMessageData")).get("displayName"))
    return Content(kind, f"👤 {name or 'Contact'}")


def _contacts(data: dict, kind: str) -> Content:
    # The documented key really is a nested `messageData` (REFERENCE §3); SDKs also use these.
    holder = _dict(data.get("messageData")) or _dict(data.get("contactsArrayMessageData")) or data
    contacts = holder.get("contacts")
    names = [_str(_dict(c).get("displayName")) for c in contacts] if isinstance(contacts, list) else []
    names = [n for n in names if n]
    return Content(kind, "👥 " + (", ".join(names) if names else "Contacts"))


def _reaction(data: dict, kind: str) -> Content:
    emoji = _str(_dict(data.get("extendedTextMessageData")).get("text"))
    return Content(kind, emoji, target_id=_str(_dict(data.get("quotedMessage")).get("stanzaId")))


def _edited(data: dict, kind: str) -> Content:
    edited = _dict(data.get("editedMessageData"))
    text = _str(edited.get("textMessage")) or _str(edited.get("caption"))
    return Content(kind, text, target_id=_str(edited.get("stanzaId")))


def _deleted(data: dict, kind: str) -> Content:
    # The text only shows when the deleted message itself was never stored.
    return Content(kind, "🗑 Deleted a message", target_id=_str(_dict(data.get("deletedMessageData")).get("stanzaId")))


def _poll(data: dict, kind: str) -> Content:
    poll = _dict(data.get("pollMessageData"))
    options = poll.get("options")
    names = [_str(_dict(o).get("optionName")) for o in options] if isinstance(options, list) else []
    text = "📊 " + _str(poll.get("name"))
    if any(names):
        text += " — " + " / ".join(n for n in names if n)
    return Content(kind, text)


def _poll_update(data: dict, kind: str) -> Content:
    # One voter's view of the poll (REFERENCE §3): which options carry any vote in this snapshot.
    poll = _dict(data.get("pollMessageData"))
    votes = poll.get("votes")
    chosen = [
        _str(_dict(v).get("optionName"))
        for v in (votes if isinstance(votes, list) else [])
        if isinstance(_dict(v).get("optionVoters"), list) and _dict(v).get("optionVoters")
    ]
    text = f"🗳 {_str(poll.get('name'))}: " + (", ".join(c for c in chosen if c) or "vote withdrawn")
    return Content(kind, text, quoted_id=_str(poll.get("stanzaId")))


def _choice(key_names: tuple[str, ...], text_keys: tuple[str, ...]) -> Callable[[dict, str], Content]:
    def parse(data: dict, kind: str) -> Content:
        holder = next((_dict(data[k]) for k in key_names if isinstance(data.get(k), dict)), {})
        text = next((_str(holder.get(k)) for k in text_keys if _str(holder.get(k))), "")
        return Content(kind, text, quoted_id=_str(holder.get("stanzaId")))

    return parse


def _group_invite(data: dict, kind: str) -> Content:
    invite = _dict(data.get("groupInviteMessageData"))
    text = _str(invite.get("caption")) or f"Invitation to the group {_str(invite.get('groupName'))}".strip()
    return Content(kind, text)


_template_reply = _choice(
    # The data key is `templateButtonReplyMessage`; the type is spelt with and without the "s",
    # and one SDK reads a key named `templateMessage` (REFERENCE §3).
    ("templateButtonReplyMessage", "templateButtonsReplyMessage", "templateMessage"),
    ("selectedDisplayText", "selectedId"),
)

CONTENT_PARSERS: dict[str, Callable[[dict, str], Content]] = {
    "textMessage": _text,
    "extendedTextMessage": _extended_text,
    "quotedMessage": _extended_text,
    "imageMessage": _file,
    "videoMessage": _file,
    "documentMessage": _file,
    "audioMessage": _file,
    "stickerMessage": _file,
    "locationMessage": _location,
    "contactMessage": _contact,
    "contactsArrayMessage": _contacts,
    "reactionMessage": _reaction,
    "editedMessage": _edited,
    "deletedMessage": _deleted,
    "pollMessage": _poll,
    "pollUpdateMessage": _poll_update,
    "buttonsResponseMessage": _choice(("buttonsResponseMessage",), ("selectedButtonText", "selectedButtonId")),
    "templateButtonsReplyMessage": _template_reply,
    "templateButtonReplyMessage": _template_reply,
    "listResponseMessage": _choice(("listResponseMessage", "ListResponseMessage"), ("title", "singleSelectReply")),
    "interactiveButtonsResponse": _choice(("interactiveButtonsResponse",), ("selectedDisplayText", "selectedId")),
    "buttonsMessage": _choice(("buttonsMessage",), ("contentText",)),
    "templateMessage": _choice(("templateMessage",), ("contentText",)),
    "listMessage": _choice(("listMessage",), ("contentText", "title")),
    "interactiveButtons": _choice(("interactiveButtons",), ("contentText", "titleText")),
    "interactiveButtonsReply": _choice(("interactiveButtonsReply",), ("contentText", "titleText")),
    "groupInviteMessage": _group_invite,
}


def parse_content(message_data: dict) -> Content:
    kind = _str(message_data.get("typeMessage"))
    parser = CONTENT_PARSERS.get(kind)
    if parser is None:
        # Never dropped: kept with a placeholder, the body is in the notification for a human.
        return Content(kind or "unknown", f"[Unsupported message type: {kind or 'missing'}]")
    content = parser(message_data, kind)
    if not content.quoted_id and not content.target_id:
        quoted = _str(_dict(message_data.get("quotedMessage")).get("stanzaId"))
        if quoted:
            content = replace(content, quoted_id=quoted)
    if content.text:
        content = replace(content, text=_explain_placeholder(content.text))
    return content


# ---------------------------------------------------------------------------------------------
# Notifications.


@dataclass(frozen=True)
class Envelope:
    type_webhook: str
    instance_id: int
    wid: str
    timestamp: datetime | None
    id_message: str


@dataclass(frozen=True)
class MessageNotification:
    """incomingMessageReceived, outgoingMessageReceived, outgoingAPIMessageReceived."""

    envelope: Envelope
    chat: ChatId
    sender: ChatId | None
    chat_name: str
    sender_name: str
    content: Content

    @property
    def is_group(self) -> bool:
        return self.chat.kind == "group"

    @property
    def person(self) -> ChatId | None:
        """Whom the message is about: the group participant who wrote, or the chat itself."""
        if self.is_group:
            return self.sender if self.sender and self.sender.kind != "group" else None
        return self.chat


@dataclass(frozen=True)
class StatusNotification:
    envelope: Envelope
    chat: ChatId | None
    status: str
    description: str
    send_by_api: bool


@dataclass(frozen=True)
class InstanceNotification:
    """stateInstanceChanged, statusInstanceChanged, deviceInfo, quotaExceeded, incomingBlock, incomingCall."""

    envelope: Envelope
    state: str = ""
    socket_status: str = ""
    device: dict = field(default_factory=dict)
    quota: dict = field(default_factory=dict)
    call_from: str = ""
    call_status: str = ""
    blocked_chat: str = ""


_MAX_INSTANCE_ID = 2**63 - 1  # a bigint column; Green API's ids have at most 10 digits


def envelope_of(body: dict) -> Envelope:
    instance = _dict(body.get("instanceData"))
    instance_id = _int(instance.get("idInstance")) or 0
    return Envelope(
        type_webhook=_str(body.get("typeWebhook"))[:64],
        instance_id=instance_id if 0 < instance_id <= _MAX_INSTANCE_ID else 0,
        wid=_str(instance.get("wid")),
        timestamp=_timestamp(body.get("timestamp")),
        id_message=_str(body.get("idMessage"))[:128],
    )


def dedupe_key(body: dict, raw: bytes, env: Envelope | None = None) -> str:
    """The identity Green API redelivers under (REFERENCE §9): instance, type, idMessage, status."""
    env = env or envelope_of(body)  # the caller may have it already
    if env.id_message:
        # outgoingMessageStatus and incomingCall send one notification per status under one idMessage.
        status = _str(body.get("status"))
        key = f"{env.instance_id}:{env.type_webhook}:{env.id_message}:{status}"
        if len(key) <= 255:
            return key
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def from_guide_format(body: dict) -> dict:
    """The troubleshooting guide's hand-written test body (fields under `data`) in Green API's shape."""
    data = body["data"]
    chat_id = data.get("chatId") or data.get("senderId")
    message_data: dict[str, Any] = {"typeMessage": data.get("typeMessage") or "textMessage"}
    if "textMessage" in data:
        message_data["textMessageData"] = {"textMessage": data.get("textMessage")}
    for key, value in data.items():
        if key.endswith("Data") or key in ("quotedMessage", "messageData"):
            message_data[key] = value
    return {
        **{k: v for k, v in body.items() if k != "data"},
        "idMessage": body.get("idMessage") or data.get("idMessage"),
        "timestamp": body.get("timestamp") or data.get("timestamp"),
        "senderData": {
            "chatId": chat_id,
            "sender": data.get("senderId") or chat_id,
            "senderName": data.get("senderName"),
            "chatName": data.get("chatName"),
        },
        "messageData": message_data,
    }


MESSAGE_TYPES = (
    "incomingMessageReceived",
    "outgoingMessageReceived",
    "outgoingAPIMessageReceived",
)
INSTANCE_TYPES = (
    "stateInstanceChanged",
    "statusInstanceChanged",
    "deviceInfo",
    "quotaExceeded",
    "incomingBlock",
    "incomingCall",
)


def unwrap(body: dict) -> dict:
    """The HTTP API's `{receiptId, body}` wrapper (REFERENCE §9), posted as is by polling bridges."""
    inner = body.get("body")
    if "receiptId" in body and isinstance(inner, dict) and "typeWebhook" not in body:
        return inner
    return body


def parse(body: dict, env: Envelope | None = None) -> MessageNotification | StatusNotification | InstanceNotification:
    """Raises Malformed when the notification lacks what its kind needs, or is of an unknown kind."""
    if isinstance(body.get("data"), dict) and "messageData" not in body:
        body = from_guide_format(body)
        env = None  # the guide's format keeps idMessage and timestamp elsewhere
    env = env or envelope_of(body)  # the caller may have it already
    kind = env.type_webhook
    if kind in MESSAGE_TYPES:
        sender_data = _dict(body.get("senderData"))
        chat = parse_chat_id(sender_data.get("chatId"))
        if chat is None:
            raise Malformed(f"senderData.chatId is missing or not a chat id: {_str(sender_data.get('chatId'))!r}")
        if not env.id_message:
            raise Malformed("idMessage is missing")
        message_data = _dict(body.get("messageData"))
        return MessageNotification(
            envelope=env,
            chat=chat,
            sender=parse_chat_id(sender_data.get("sender")),
            chat_name=_str(sender_data.get("chatName")),
            sender_name=_str(sender_data.get("senderContactName")) or _str(sender_data.get("senderName")),
            content=parse_content(message_data),
        )
    if kind == "outgoingMessageStatus":
        if not env.id_message:
            raise Malformed("idMessage is missing")
        status = _str(body.get("status"))
        if not status:
            raise Malformed("status is empty")  # seen in the wild (REFERENCE §5, I-#1086)
        return StatusNotification(
            envelope=env,
            chat=parse_chat_id(body.get("chatId")),
            status=status,
            description=_str(body.get("description")),
            send_by_api=body.get("sendByApi") is True,
        )
    if kind in INSTANCE_TYPES:
        return InstanceNotification(
            envelope=env,
            state=_str(body.get("stateInstance")),
            socket_status=_str(body.get("statusInstance")),
            device=_dict(body.get("deviceData")),
            quota=_dict(body.get("quotaData")),
            call_from=_str(body.get("from")),
            call_status=_str(body.get("status")),
            blocked_chat=_str(body.get("chatId")),
        )
    raise Malformed(f"unknown typeWebhook {kind!r}" if kind else "typeWebhook is missing")
