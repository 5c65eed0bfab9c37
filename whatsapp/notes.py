"""Private notes in a client's conversation: staff write them for each other. Shown among the messages
in time order, marked as notes; never sent to Green API, never a message (their own table: no stats,
counter, unread count or export of messages sees them)."""

from datetime import datetime

from accounts.models import User
from clients.models import Client
from whatsapp.models import Note

ADD_PERMISSION = "whatsapp.add_note"
VIEW_PERMISSION = "whatsapp.view_note"
MAX_TEXT = 5000


def note_add(*, client: Client, author: User, text: str) -> Note:
    """Keep a note by `author`; ValueError (nothing written) for an empty or too long text."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise ValueError(f"A note must have 1 to {MAX_TEXT} characters.")
    return Note.objects.create(client=client, author=author, author_name=author.name or author.email, text=text)


def notes_between(*, client: Client, after: datetime | None, before: datetime | None) -> list[Note]:
    """The client's notes written in [after, before), oldest first (no bound: from the start, until now)."""
    notes = Note.objects.filter(client=client).order_by("created_at")
    if after is not None:
        notes = notes.filter(created_at__gte=after)
    if before is not None:
        notes = notes.filter(created_at__lt=before)
    return list(notes)
