"""Media kept: the file of every message that carries one, copied into our storage by a job.

The write paths call `media_enqueue(message=message)` in the transaction that stores a message;
the job (`media_download`) runs in the Procfile's `worker:` process. Green API's links do not last
(its own uploads 15 days, incoming media no promise), so the file is fetched soon, kept in
Django's default storage (MEDIA_ROOT, or S3 with MEDIA_S3_BUCKET), and served to staff by
`whatsapp/media_views.py`.
"""

import base64
import hashlib
import logging
import re
from pathlib import PurePosixPath

import puremagic
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from crm.db import insert_or_skip
from jobs.services import GiveUp, job
from whatsapp.content import MEDIA_TYPES
from whatsapp.fetch import Fetched, FetchError, LinkFailed, Refused, fetch
from whatsapp.greenapi import GreenAPI, GreenAPIError, GreenAPINotConfigured
from whatsapp.models import MediaFile, Message

logger = logging.getLogger(__name__)

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


class Gone(Exception):
    """WhatsApp (through Green API) no longer has the file: nothing will bring it back."""


def media_enqueue(*, message: Message, thumbnail: str = "") -> MediaFile | None:
    """Start keeping the file of `message`, once: the new MediaFile, or None (no file, or known).

    `thumbnail` is the notification's `fileMessageData.jpegThumbnail`, kept when it is a JPEG,
    for the conversation to show while the file waits.

    Call it in the transaction that stores the message: the row and its job commit with it. A
    redelivery, a replay or an edit of the message finds the row there and changes nothing, so a
    download is never repeated, and never skipped because the message was a duplicate.
    """
    if message.type_message not in MEDIA_TYPES:
        return None
    media = MediaFile(
        message=message,
        source_url=message.media_url,
        file_name=message.file_name[:512],
        thumbnail=thumbnail if _is_jpeg(thumbnail) else "",
    )
    # Joins the caller's transaction; begins one when called outside any, so the row never
    # commits without its job.
    with transaction.atomic(savepoint=False):
        # The message's unique row makes concurrent calls race on the insert, not on a SELECT.
        if not insert_or_skip(media):
            return None
        media_download.enqueue(media_id=str(media.pk))
    return media


def _is_jpeg(encoded: str) -> bool:
    # A webhook body's text: kept only if it is what it claims (it ends up in an <img> tag), and
    # checked cheaply, on the webhook's path. Real thumbnails are a few KB.
    if not encoded or len(encoded) > 100_000 or not _BASE64.fullmatch(encoded):
        return False
    try:
        return base64.b64decode(encoded[:8], validate=True).startswith(b"\xff\xd8\xff")
    except ValueError:
        return False


def _gave_up(kwargs: dict, reason: str) -> None:
    """The download job had all its attempts: the file could not be kept, and staff see why."""
    MediaFile.objects.filter(
        pk=kwargs.get("media_id"), state__in=[MediaFile.State.WAITING, MediaFile.State.FAILED]
    ).update(state=MediaFile.State.FAILED, reason=reason)


@job(attempts=5, backoff_seconds=60, on_give_up=_gave_up)
def media_download(media_id: str) -> str:
    """Fetch the file into storage; the MediaFile's new state. Safe to run twice."""
    media = MediaFile.objects.select_related("message").filter(pk=media_id).first()
    if media is None or media.state in (MediaFile.State.STORED, MediaFile.State.GONE):
        return media.state if media else "no such media"
    if media.state == MediaFile.State.FAILED:  # run again by jobs_retry
        _update(media, state=MediaFile.State.WAITING)
    try:
        fetched = _fetch(media)
    except Gone as error:
        _update(media, state=MediaFile.State.GONE, reason=str(error))
        return MediaFile.State.GONE
    except Refused as error:
        _update(media, state=MediaFile.State.FAILED, reason=str(error))
        raise GiveUp(str(error)) from None
    except (FetchError, GreenAPIError) as error:
        _update(media, reason=f"{error}; trying again")
        raise
    with fetched.file:
        return _store(media, fetched)


def _fetch(media: MediaFile) -> Fetched:
    """The file from its link; when the link fails, from the fresh one Green API gives."""
    limits = {"max_bytes": settings.MEDIA_MAX_BYTES, "seconds": settings.MEDIA_FETCH_SECONDS}
    if media.source_url:
        try:
            return fetch(media.source_url, **limits)
        except LinkFailed as error:
            logger.info("Media %s: %s; asking Green API for a fresh link", media.pk, error)
    url = _fresh_link(media.message)
    _update(media, source_url=url)
    media.source_url = url
    return fetch(url, **limits)


def _fresh_link(message: Message) -> str:
    if not (message.chat_id and message.external_id):
        raise Gone("the link failed, and the message has no chatId and idMessage to ask Green API for another")
    try:
        url = GreenAPI.from_settings().download_file(message.chat_id, message.external_id)
    except GreenAPINotConfigured as error:
        raise Refused(f"the link failed, and Green API cannot be asked for another: {error}") from None
    except GreenAPIError as error:
        if error.status in (400, 404):
            raise Gone(f"WhatsApp no longer has the file: {error}") from None
        raise
    if not url:
        raise Gone("WhatsApp no longer has the file (Green API's downloadFile gave no link)")
    return url


def media_keep_upload(*, message: Message, file: File, file_name: str, content_type: str) -> MediaFile:
    """Keep a file we send, before it goes: a MediaFile already stored, its bytes in our storage
    (removed again when its row cannot be written). Call it last in the transaction that stores
    `message`."""
    media = MediaFile(message=message, file_name=file_name[:512], content_type=content_type)
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    saved = default_storage.save(_storage_name(media, PurePosixPath(file_name).suffix.lower()), file)
    try:
        media.file, media.size, media.sha256 = saved, file.size, digest.hexdigest()
        media.state, media.stored_at = MediaFile.State.STORED, timezone.now()
        media.save()
    except Exception:
        default_storage.delete(saved)
        raise
    return media


def _storage_name(media: MediaFile, extension: str) -> str:
    return f"whatsapp/{media.created_at:%Y/%m}/{media.pk}{_suffix(media.file_name) or extension}"


def _store(media: MediaFile, fetched: Fetched) -> str:
    content_type, extension = sniff(fetched.head, media.message.mime_type)
    name = _storage_name(media, extension)
    content = File(fetched.file, name=name)
    content.size = fetched.size
    saved = default_storage.save(name, content)
    kept = MediaFile.objects.filter(pk=media.pk, state=MediaFile.State.WAITING).update(
        state=MediaFile.State.STORED,
        file=saved,
        content_type=content_type or "application/octet-stream",
        size=fetched.size,
        sha256=fetched.sha256,
        reason="",
        stored_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if not kept:
        # Another worker kept it first (a job taken again after its worker seemed dead).
        default_storage.delete(saved)
        return MediaFile.State.STORED
    logger.info("Media %s stored: %s, %s bytes, %s", media.pk, saved, fetched.size, content_type or "type unknown")
    return MediaFile.State.STORED


def sniff(head: bytes, declared: str = "") -> tuple[str, str]:
    """(MIME type, extension) read from the file's first bytes; empty when they say nothing.

    Many formats share a signature (an Ogg page is a voice note or a video): the sender's declared
    type wins when the bytes are one of its matches, never otherwise.
    """
    try:
        matches = [match for match in puremagic.magic_string(head) if match.mime_type]
    except puremagic.PureError:
        return "", ""
    if not matches:
        return "", ""
    declared = declared.split(";")[0].strip().lower()
    chosen = next((match for match in matches if match.mime_type == declared), matches[0])
    return chosen.mime_type, chosen.extension if re.fullmatch(r"\.[a-z0-9]{1,10}", chosen.extension) else ""


def _suffix(file_name: str) -> str:
    suffix = PurePosixPath(file_name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""


def _update(media: MediaFile, **values: object) -> None:
    MediaFile.objects.filter(pk=media.pk).update(**values, updated_at=timezone.now())
