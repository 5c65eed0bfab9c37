"""Messages as CSV: the columns every messages export has, and the export of a large selection as a
background job that writes the file into Django's storage.

Up to EXPORT_STREAM_MAX_ROWS rows, the admin streams the CSV to the browser as it reads it
(crm/csv_export.py). Past it (every message: 3,000,000 rows at about 4 MiB/s outlive gunicorn's
30 s), `export_request` keeps the selection in a MessageExport and enqueues `export_write`, which the
Procfile's `worker:` process runs: it reads the rows through a server-side cursor a chunk at a time
and writes them to a temporary file, so its memory stays flat whatever the size, then saves the file
into the default storage (MEDIA_ROOT, or S3 with MEDIA_S3_BUCKET). Staff download it from *Your
exports* (whatsapp/admin_views.py), checked on every request; files older than EXPORTS_KEEP_DAYS are
deleted by a periodic job.
"""

import logging
import pickle
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm.csv_export import csv_write, streamed
from jobs.services import GiveUp, job, periodic
from whatsapp.models import Message, MessageExport

logger = logging.getLogger(__name__)

# Every messages CSV, whichever way it is made (a selection, a conversation, a background export):
# its header, and the field each column reads.
COLUMNS = [
    ("id", "pk"),
    ("client", "client__name"),
    ("client_whatsapp_id", "client__whatsapp_id"),
    ("direction", "direction"),
    ("type", "type_message"),
    ("status", "status"),
    ("content", "content"),
    ("media_url", "media_url"),
    ("external_id", "external_id"),
    ("created_at", "created_at"),
    # In a group chat's conversation: the participant who wrote it (empty elsewhere).
    ("author", "author__name"),
    ("author_whatsapp_id", "author__whatsapp_id"),
]
HEADER = [name for name, _ in COLUMNS]
# Rows the server-side cursor hands over at a time: the job's memory is about this many rows.
CHUNK_ROWS = 5000


def message_rows(queryset: QuerySet[Message], *, chunk_size: int = 2000) -> Iterator[tuple]:
    """The CSV's rows of `queryset`, oldest first, read as they are written (constant memory).

    Values, not model instances: less work per row, which a large export is made of."""
    return streamed(queryset.order_by("created_at").values_list(*(field for _, field in COLUMNS)), chunk_size)


def export_needed(queryset: QuerySet[Message]) -> bool:
    """True when `queryset` is too large to stream to a browser: more than EXPORT_STREAM_MAX_ROWS
    rows (counted up to one past it, never every row)."""
    limit = settings.EXPORT_STREAM_MAX_ROWS
    return queryset.order_by()[: limit + 1].count() > limit


def export_request(*, queryset: QuerySet[Message], user: object, selection: str = "") -> MessageExport:
    """Keep the selection and enqueue the job that writes its file; the export, waiting.

    The row and its job commit together (or neither does). `selection` is the list's query string,
    to say what the export holds."""
    with transaction.atomic():
        export = MessageExport.objects.create(
            requested_by=user, query=pickle.dumps(queryset.order_by().query), selection=selection[:2000]
        )
        export_write.enqueue(export_id=str(export.pk))
    logger.info("Export %s of messages (%s) requested by %s", export.pk, selection or "all", user)
    return export


def export_selection(export: MessageExport) -> QuerySet[Message]:
    """The messages the export was asked for, as the list selected them."""
    queryset = Message.objects.all()
    queryset.query = pickle.loads(bytes(export.query))  # noqa: S301 - written by export_request only
    return queryset


def _gave_up(kwargs: dict, reason: str) -> None:
    MessageExport.objects.filter(pk=kwargs.get("export_id")).exclude(state=MessageExport.State.READY).update(
        state=MessageExport.State.FAILED, reason=reason, finished_at=timezone.now()
    )


@job(attempts=3, backoff_seconds=60, on_give_up=_gave_up)
def export_write(export_id: str) -> str:
    """Write the export's CSV into the storage; its new state. Safe to run twice."""
    export = MessageExport.objects.filter(pk=export_id).first()
    if export is None or export.state == MessageExport.State.READY:
        return export.state if export else "no such export"
    started = timezone.now()
    MessageExport.objects.filter(pk=export.pk).update(state=MessageExport.State.RUNNING, started_at=started)
    try:
        queryset = export_selection(export)
    except (pickle.UnpicklingError, AttributeError, ImportError, LookupError, TypeError, ValueError) as error:
        # A query pickled by another version of Django or of the models.
        raise GiveUp(f"the selection cannot be read again ({type(error).__name__}: {error}); export it anew") from None
    try:
        name, rows, size = _write(export, queryset)
    except Exception as error:
        MessageExport.objects.filter(pk=export.pk).update(reason=f"{error}; trying again")
        raise
    saved = MessageExport.objects.filter(pk=export.pk).update(
        state=MessageExport.State.READY, file=name, rows=rows, size=size, reason="", finished_at=timezone.now()
    )
    if not saved:  # deleted while it was written
        default_storage.delete(name)
        return "no such export"
    logger.info(
        "Export %s written: %s rows, %s bytes in %.1f s",
        export.pk,
        rows,
        size,
        (timezone.now() - started).total_seconds(),
    )
    return MessageExport.State.READY


def _write(export: MessageExport, queryset: QuerySet[Message]) -> tuple[str, int, int]:
    """The CSV in a temporary file first (the storage may be S3, written in one upload), then saved."""
    with tempfile.NamedTemporaryFile(prefix="messages-export-", suffix=".csv") as out:
        rows = csv_write(out, HEADER, message_rows(queryset, chunk_size=CHUNK_ROWS))
        size = out.tell()
        out.seek(0)
        name = default_storage.save(f"exports/{export.pk}.csv", File(out, name=export.file_name))
    return name, rows, size


def exports_visible(*, user: object) -> QuerySet[MessageExport]:
    """The exports `user` may see and download: their own; a superuser's, everyone's."""
    exports = MessageExport.objects.order_by("-requested_at")
    return exports if user.is_superuser else exports.filter(requested_by=user)


# ---------------------------------------------------------------------------------------------
# Clean-up: an export's file is kept EXPORTS_KEEP_DAYS, then deleted with its row by a periodic job.


def exports_clean(*, now: datetime | None = None) -> int:
    """Delete exports (files and rows) requested more than EXPORTS_KEEP_DAYS ago; how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXPORTS_KEEP_DAYS)
    deleted = 0
    # One still being written goes too: its job finds its row gone and deletes the file it wrote.
    for export in MessageExport.objects.filter(requested_at__lt=cutoff):
        if export.file:
            default_storage.delete(export.file.name)
        export.delete()
        deleted += 1
    if deleted:
        logger.info("Deleted %s message export(s) older than %s day(s)", deleted, settings.EXPORTS_KEEP_DAYS)
    return deleted


def exports_clean_every() -> float | None:
    """Hourly while there are exports; None (no run scheduled) when there are none, or when
    EXPORTS_KEEP_DAYS is 0 (kept until deleted by hand). The worker looks every minute, so the first
    export starts the chain and the clean-up of the last one ends it."""
    if not settings.EXPORTS_KEEP_DAYS or not MessageExport.objects.exists():
        return None
    return 3600.0


@periodic(every=exports_clean_every)
@job(attempts=1, backoff_seconds=60)
def exports_clean_periodic() -> dict:
    """One periodic clean-up; the next is scheduled when it ends."""
    return {"deleted": exports_clean()}
