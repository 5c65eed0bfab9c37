"""How a message's parts read to staff, wherever they are shown (the admin's lists, the conversation)."""

import re

from whatsapp.fields import is_web_link

# Green API's typeMessage as staff read it where spelling it out (pollUpdateMessage: "Poll update")
# would say less.
TYPE_LABELS = {
    "extendedTextMessage": "Text (with preview)",
    "quotedMessage": "Reply",
    "audioMessage": "Voice / audio",
    "contactsArrayMessage": "Contacts",
    "editedMessage": "Edit",
    "deletedMessage": "Deletion",
}


def type_label(type_message: str) -> str:
    """A readable name for a typeMessage: textMessage is "Text", imageMessage "Image"."""
    if type_message in TYPE_LABELS:
        return TYPE_LABELS[type_message]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", type_message.removesuffix("Message")).lower()
    return words[:1].upper() + words[1:] or "—"


def web_link(url: str) -> str:
    """`url` when a page may link it (whatsapp.fields.is_web_link); otherwise "": shown as text."""
    return url if is_web_link(url) else ""
