"""Green API notification JSON → small frozen dataclasses. Nothing past this module indexes raw dicts.

Lenient on optional fields (any of them may be missing, `""`, or a number written as a string:
REFERENCE §1, §12), strict on what we need (a message without a chat is `Malformed`), never a bare
KeyError. Sources for each shape: `../shared/greenapi/REFERENCE.md` §1–§7. What a message says is
read by `whatsapp.content`, each single value by `whatsapp.fields`.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from whatsapp.content import Content, parse_content
from whatsapp.fields import as_dict, as_int, as_str, as_timestamp


class Malformed(ValueError):
    """The notification lacks something we need to act on it; it is kept and marked ignored."""


class NotProcessed(Exception):
    """A notification that is well-formed but has nothing for us to do; kept as ignored."""


# ---------------------------------------------------------------------------------------------
# Chat ids (REFERENCE §7): `79031234567@c.us`, `…:3@c.us`, `…@s.whatsapp.net`, `…@g.us`, `…@lid`.


@dataclass(frozen=True)
class ChatId:
    raw: str
    kind: str  # "phone", "group", "lid"
    value: str  # the digits of a phone, the group's id (before @g.us), or the lid

    @property
    def phone(self) -> str | None:
        return self.value if self.kind == "phone" else None

    @property
    def lid(self) -> str | None:
        return self.value if self.kind == "lid" else None


_GROUP_ID = re.compile(r"[0-9]+(-[0-9]+)?", re.ASCII)


def parse_chat_id(raw: Any) -> ChatId | None:
    raw = as_str(raw).strip()
    if not raw:
        return None
    user, _, server = raw.partition("@")
    server = server.lower()
    if server == "g.us":
        # Digits, or (groups made before 2020) the creator's number and a time: 79001234567-1581234048.
        return ChatId(raw, "group", user) if _GROUP_ID.fullmatch(user) else None
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
# Notifications.


@dataclass(frozen=True)
class Envelope:
    type_webhook: str
    instance_id: int
    wid: str
    timestamp: datetime | None
    id_message: str
    # Written by the backfill (whatsapp/history.py) for a message found in Green API's history.
    recovered: bool = False


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
        """Who wrote: in a group the participant (our own number when we wrote), else the chat."""
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


Parsed = MessageNotification | StatusNotification | InstanceNotification

_MAX_INSTANCE_ID = 2**63 - 1  # a bigint column; Green API's ids have at most 10 digits


def envelope_of(body: dict) -> Envelope:
    instance = as_dict(body.get("instanceData"))
    instance_id = as_int(instance.get("idInstance")) or 0
    return Envelope(
        type_webhook=as_str(body.get("typeWebhook"))[:64],
        instance_id=instance_id if 0 < instance_id <= _MAX_INSTANCE_ID else 0,
        wid=as_str(instance.get("wid")),
        timestamp=as_timestamp(body.get("timestamp")),
        id_message=as_str(body.get("idMessage"))[:128],
        recovered="recoveredFrom" in body,
    )


def dedupe_key(body: dict, raw: bytes, env: Envelope | None = None) -> str:
    """The identity Green API redelivers under (REFERENCE §9): instance, type, idMessage, status."""
    env = env or envelope_of(body)  # the caller may have it already
    if env.id_message:
        # outgoingMessageStatus and incomingCall send one notification per status under one idMessage.
        status = as_str(body.get("status"))
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


# Other spellings of a status, read as the status they mean.
STATUS_SPELLINGS = {"fail": "failed"}


def unwrap(body: dict) -> dict:
    """The HTTP API's `{receiptId, body}` wrapper (REFERENCE §9), posted as is by polling bridges."""
    inner = body.get("body")
    if "receiptId" in body and isinstance(inner, dict) and "typeWebhook" not in body:
        return inner
    return body


def read(body: dict, env: Envelope | None = None) -> tuple[dict, Envelope]:
    """The body in Green API's own shape, and its envelope (the caller may have it already)."""
    if isinstance(body.get("data"), dict) and "messageData" not in body:
        # The guide's format keeps idMessage and timestamp elsewhere: its envelope is read anew.
        body = from_guide_format(body)
        env = None
    return body, env or envelope_of(body)


# One parser per kind of notification (whatsapp.kinds names which); each raises Malformed when the
# notification lacks what its kind needs.


def parse_message(body: dict, env: Envelope) -> MessageNotification:
    sender_data = as_dict(body.get("senderData"))
    chat = parse_chat_id(sender_data.get("chatId"))
    if chat is None:
        raise Malformed(f"senderData.chatId is missing or not a chat id: {as_str(sender_data.get('chatId'))!r}")
    if not env.id_message:
        raise Malformed("idMessage is missing")
    return MessageNotification(
        envelope=env,
        chat=chat,
        sender=parse_chat_id(sender_data.get("sender")),
        chat_name=as_str(sender_data.get("chatName")),
        sender_name=as_str(sender_data.get("senderContactName")) or as_str(sender_data.get("senderName")),
        content=parse_content(as_dict(body.get("messageData"))),
    )


def parse_status(body: dict, env: Envelope) -> StatusNotification:
    if not env.id_message:
        raise Malformed("idMessage is missing")
    status = as_str(body.get("status"))
    status = STATUS_SPELLINGS.get(status, status)
    if not status:
        raise Malformed("status is empty")  # seen in the wild (REFERENCE §5, I-#1086)
    return StatusNotification(
        envelope=env,
        chat=parse_chat_id(body.get("chatId")),
        status=status,
        description=as_str(body.get("description")),
        send_by_api=body.get("sendByApi") is True,
    )


def parse_instance(body: dict, env: Envelope) -> InstanceNotification:
    return InstanceNotification(
        envelope=env,
        state=as_str(body.get("stateInstance")),
        socket_status=as_str(body.get("statusInstance")),
        device=as_dict(body.get("deviceData")),
        quota=as_dict(body.get("quotaData")),
        call_from=as_str(body.get("from")),
        call_status=as_str(body.get("status")),
        blocked_chat=as_str(body.get("chatId")),
    )
