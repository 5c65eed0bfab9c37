"""A message's kept file, served to signed-in staff who may view messages, and to nobody else.

Through the application, never from a public bucket or a guessable address: the id is random and
every request is checked. Served as the file's bytes say (never as its name claims), with
`nosniff`, and as an attachment unless it is a picture, a sound or a video.
"""

import logging
import uuid

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from whatsapp.models import MediaFile

logger = logging.getLogger(__name__)


@require_safe
@staff_member_required
def media_file(request: HttpRequest, media_id: uuid.UUID) -> HttpResponse:
    if not request.user.has_perm("whatsapp.view_message"):
        raise PermissionDenied("Viewing WhatsApp messages is not allowed for this account.")
    media = MediaFile.objects.filter(pk=media_id, state=MediaFile.State.STORED).first()
    if media is None:
        raise Http404("No stored file with this id.")
    try:
        handle = default_storage.open(media.file.name, "rb")
    except FileNotFoundError:
        logger.warning("Media %s: its file %s is missing from the storage", media.pk, media.file.name)
        raise Http404("The file is missing from the storage.") from None
    except Exception:  # any storage's failure (S3 unreachable…): 503, never a 500 page
        logger.exception("Media %s: the storage could not be read", media.pk)
        return HttpResponse("The file storage cannot be reached; try again.", status=503, content_type="text/plain")
    response = FileResponse(
        handle,
        content_type=media.content_type or "application/octet-stream",
        as_attachment=not media.inline,
        filename=media.file_name or media.file.name.rsplit("/", 1)[-1],
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, a file can run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
