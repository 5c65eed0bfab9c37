"""The inbox's background work: telling Green API that a chat was read (GREEN_API_MARK_READ)."""

from jobs.services import job
from whatsapp.greenapi import GreenAPI


@job(attempts=3, backoff_seconds=30)
def chat_mark_read(chat_id: str) -> bool:
    """readChat for the whole chat: the client's phone shows our blue ticks. Safe to run twice."""
    return GreenAPI.from_settings().read_chat(chat_id)
