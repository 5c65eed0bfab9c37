"""What a message says, by its typeMessage (REFERENCE §3, §4): the text a person reads, and its
parts (file, place, the message it replies to or changes)."""

from collections.abc import Callable
from dataclasses import dataclass, replace

from whatsapp.fields import as_dict, as_float, as_str, is_web_link

# What a person reads when the message has no text of its own.
_MEDIA_LABELS = {
    "imageMessage": "🖼 Photo",
    "videoMessage": "🎬 Video",
    "documentMessage": "📄 Document",
    "audioMessage": "🎤 Voice message",
    "stickerMessage": "Sticker",
}

MAX_URL = 2048  # the column's length

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
    thumbnail: str = ""  # Green API's jpegThumbnail of a file, base64 (whatsapp.media checks it)
    latitude: float | None = None
    longitude: float | None = None
    quoted_id: str = ""  # the message this one replies to
    quoted_text: str = ""  # what that message says, as the reply carries it
    quoted_sender: str = ""  # who wrote that message: a number or lid, else the chat id as given
    target_id: str = ""  # the message an edit, deletion or reaction changes


def _file(data: dict, kind: str) -> Content:
    file = as_dict(data.get("fileMessageData"))
    url = as_str(file.get("downloadUrl"))
    file_name = as_str(file.get("fileName"))
    text = as_str(file.get("caption"))
    if not text:
        label = _MEDIA_LABELS.get(kind, "📎 File")
        text = f"{label}: {file_name}" if kind == "documentMessage" and file_name else label
    if url.strip() in _PLACEHOLDERS:
        text = f"{text} — {_explain_placeholder(url)}"
        url = ""
    elif url and not is_web_link(url):
        # A link staff could click must be a web address: `javascript:` or `data:` would run in the
        # admin's page. What came stays readable as text.
        text = f"{text} — file link not kept (not an http(s) address): {url[:MAX_URL]}"
        url = ""
    return Content(
        kind,
        text,
        media_url=url,
        file_name=file_name,
        mime_type=as_str(file.get("mimeType")),
        thumbnail=as_str(file.get("jpegThumbnail")),
    )


def _text(data: dict, kind: str) -> Content:
    return Content(kind, as_str(as_dict(data.get("textMessageData")).get("textMessage")))


def _extended_text(data: dict, kind: str) -> Content:
    ext = as_dict(data.get("extendedTextMessageData"))
    # Legacy `quotedMessage` type keeps the quoted id in extendedTextMessageData (REFERENCE §4).
    return Content(kind, as_str(ext.get("text")), quoted_id=as_str(ext.get("stanzaId")))


def _location(data: dict, kind: str) -> Content:
    loc = as_dict(data.get("locationMessageData"))
    parts = [p for p in (as_str(loc.get("nameLocation")), as_str(loc.get("address"))) if p]
    lat, lon = as_float(loc.get("latitude")), as_float(loc.get("longitude"))
    text = "📍 " + (", ".join(parts) if parts else f"{lat}, {lon}")
    return Content(kind, text, latitude=lat, longitude=lon)


def _contact(data: dict, kind: str) -> Content:
    name = as_str(as_dict(data.get("contactMessageData")).get("displayName"))
    return Content(kind, f"👤 {name or 'Contact'}")


def _contacts(data: dict, kind: str) -> Content:
    # The documented key really is a nested `messageData` (REFERENCE §3); SDKs also use these.
    holder = as_dict(data.get("messageData")) or as_dict(data.get("contactsArrayMessageData")) or data
    contacts = holder.get("contacts")
    names = [as_str(as_dict(c).get("displayName")) for c in contacts] if isinstance(contacts, list) else []
    names = [n for n in names if n]
    return Content(kind, "👥 " + (", ".join(names) if names else "Contacts"))


def _reaction(data: dict, kind: str) -> Content:
    emoji = as_str(as_dict(data.get("extendedTextMessageData")).get("text"))
    return Content(kind, emoji, target_id=as_str(as_dict(data.get("quotedMessage")).get("stanzaId")))


def _edited(data: dict, kind: str) -> Content:
    edited = as_dict(data.get("editedMessageData"))
    text = as_str(edited.get("textMessage")) or as_str(edited.get("caption"))
    return Content(kind, text, target_id=as_str(edited.get("stanzaId")))


def _deleted(data: dict, kind: str) -> Content:
    # The text only shows when the deleted message itself was never stored.
    return Content(
        kind, "🗑 Deleted a message", target_id=as_str(as_dict(data.get("deletedMessageData")).get("stanzaId"))
    )


def _poll(data: dict, kind: str) -> Content:
    # Today's shape, or the one Green API documented in 2023: `pollCreationMessage` beside typeMessage.
    poll = as_dict(data.get("pollMessageData")) or as_dict(data.get("pollCreationMessage"))
    options = poll.get("options")
    names = [as_str(as_dict(o).get("optionName")) for o in options] if isinstance(options, list) else []
    text = "📊 " + as_str(poll.get("name"))
    if any(names):
        text += " — " + " / ".join(n for n in names if n)
    return Content(kind, text)


def _poll_update(data: dict, kind: str) -> Content:
    # One voter's view of the poll (REFERENCE §3): which options carry any vote in this snapshot.
    poll = as_dict(data.get("pollMessageData"))
    votes = poll.get("votes")
    chosen = [
        as_str(as_dict(v).get("optionName"))
        for v in (votes if isinstance(votes, list) else [])
        if isinstance(as_dict(v).get("optionVoters"), list) and as_dict(v).get("optionVoters")
    ]
    text = f"🗳 {as_str(poll.get('name'))}: " + (", ".join(c for c in chosen if c) or "vote withdrawn")
    return Content(kind, text, quoted_id=as_str(poll.get("stanzaId")))


def _choice(key_names: tuple[str, ...], text_keys: tuple[str, ...]) -> Callable[[dict, str], Content]:
    def parse(data: dict, kind: str) -> Content:
        holder = next((as_dict(data[k]) for k in key_names if isinstance(data.get(k), dict)), {})
        text = next((as_str(holder.get(k)) for k in text_keys if as_str(holder.get(k))), "")
        return Content(kind, text, quoted_id=as_str(holder.get("stanzaId")))

    return parse


def _group_invite(data: dict, kind: str) -> Content:
    invite = as_dict(data.get("groupInviteMessageData"))
    text = as_str(invite.get("caption")) or f"Invitation to the group {as_str(invite.get('groupName'))}".strip()
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


# The kinds of message that carry a file (fileMessageData): each gets a download job when stored.
MEDIA_TYPES = frozenset(kind for kind, parse in CONTENT_PARSERS.items() if parse is _file)

# typeMessage as Green API spells it, whatever the case it arrives in (`TextMessage`, `textmessage`).
_SPELLINGS = {kind.lower(): kind for kind in CONTENT_PARSERS}


def parse_content(message_data: dict) -> Content:
    kind = as_str(message_data.get("typeMessage"))
    kind = _SPELLINGS.get(kind.lower(), kind)
    parser = CONTENT_PARSERS.get(kind)
    if parser is None:
        # Never dropped: kept with a placeholder, the body is in the notification for a human.
        return Content(kind or "unknown", f"[Unsupported message type: {kind or 'missing'}]")
    content = parser(message_data, kind)
    if not content.target_id:  # a reaction's quotedMessage is what it reacts to, not a reply
        content = replace(content, **_quoted(message_data, content.quoted_id))
    if content.text:
        content = replace(content, text=_explain_placeholder(content.text))
    return content


def _quoted(data: dict, quoted_id: str) -> dict[str, str]:
    """The message a reply quotes: `quotedMessage {stanzaId, participant, typeMessage, …}`, whose
    other keys mirror the quoted message's type (REFERENCE §4); the legacy `quotedMessage` type has
    the id and sender in extendedTextMessageData."""
    quoted = as_dict(data.get("quotedMessage"))
    legacy = as_dict(data.get("extendedTextMessageData"))
    ext, place = as_dict(quoted.get("extendedTextMessage")), as_dict(quoted.get("location"))
    texts = (
        quoted.get("textMessage"),
        quoted.get("caption"),
        ext.get("text"),
        ext.get("title"),
        place.get("nameLocation"),
        place.get("address"),
        as_dict(quoted.get("contact")).get("displayName"),
    )
    kind = _SPELLINGS.get(as_str(quoted.get("typeMessage")).lower(), "")
    text = next((as_str(t) for t in texts if as_str(t)), "") or _MEDIA_LABELS.get(kind, "")
    sender = as_str(quoted.get("participant")) or (as_str(legacy.get("participant")) if quoted_id else "")
    return {
        "quoted_id": quoted_id or as_str(quoted.get("stanzaId")),
        "quoted_text": _explain_placeholder(text),
        "quoted_sender": _who(sender),
    }


def _who(chat_id: str) -> str:
    """`79031234567@c.us` (`…:3@c.us`, `…@s.whatsapp.net`, `…@lid`) as the number or lid alone."""
    user, _, server = chat_id.partition("@")
    return user.split(":")[0] if server.lower() in ("c.us", "s.whatsapp.net", "lid") else chat_id
