"""WhatsApp's models: what Green API tells us (messages.py) and what staff add around it (staff.py)."""

from whatsapp.models.messages import (
    CONVERSATION_ORDER,
    ClientCount,
    Instance,
    MediaFile,
    Message,
    MessageCount,
    MessageExport,
    Notification,
)
from whatsapp.models.staff import AutoReply, CannedReply, Note, OpeningHours

__all__ = [
    "CONVERSATION_ORDER",
    "AutoReply",
    "CannedReply",
    "ClientCount",
    "Instance",
    "MediaFile",
    "Message",
    "MessageCount",
    "MessageExport",
    "Note",
    "Notification",
    "OpeningHours",
]
