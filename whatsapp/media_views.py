"""A message's kept file, served to staff and API users who may view messages, and to nobody else.

Through the application, never from a public bucket or a guessable address: the id is random and
every request is checked (the admin's session, or a JWT in `Authorization: Bearer …` for the API).
Served as the file's bytes say (never as its name claims), with `nosniff`, as an attachment unless
it is a picture, a sound or a video, and in byte ranges (RFC 9110 §14) so players can seek.
"""

import logging
import re
import uuid

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication

from clients.models import Client
from clients.visibility import clients_visible
from whatsapp.display import type_label, web_link
from whatsapp.models import MediaFile, Message

logger = logging.getLogger(__name__)

READ_PERMISSION = "whatsapp.view_message"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@require_safe
def media_file(request: HttpRequest, media_id: uuid.UUID) -> HttpResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    # A file of a client the user's role does not show (another manager's) is one that does not exist.
    visible = Client.objects.filter(clients_visible(user=request.user)).values("pk")
    media = MediaFile.objects.filter(pk=media_id, state=MediaFile.State.STORED, message__client_id__in=visible).first()
    if media is None:
        raise Http404("No stored file with this id.")
    try:
        handle = default_storage.open(media.file.name, "rb")
        size = media.size if media.size is not None else default_storage.size(media.file.name)
    except FileNotFoundError:
        logger.warning("Media %s: its file %s is missing from the storage", media.pk, media.file.name)
        raise Http404("The file is missing from the storage.") from None
    except Exception:  # any storage's failure (S3 unreachable…): 503, never a 500 page
        logger.exception("Media %s: the storage could not be read", media.pk)
        return HttpResponse("The file storage cannot be reached; try again.", status=503, content_type="text/plain")
    wanted = _range(request, media, size)
    if wanted == "unsatisfiable":
        handle.close()
        return HttpResponse(status=416, headers={"Content-Range": f"bytes */{size}", **_headers(media)})
    return _file_response(media, handle, size, wanted)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read messages: a staff session, or an API token (JWT)."""
    if request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
        try:
            found = JWTAuthentication().authenticate(request)
        except AuthenticationFailed as error:
            return JsonResponse({"detail": str(error.detail)}, status=401, headers={"WWW-Authenticate": "Bearer"})
        request.user = found[0]
    elif not (request.user.is_active and request.user.is_staff):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not request.user.has_perm(READ_PERMISSION):
        raise PermissionDenied("Viewing WhatsApp messages is not allowed for this account.")
    return None


def _range(request: HttpRequest, media: MediaFile, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single range asked for; None for the whole file; "unsatisfiable".

    Several ranges, a malformed header, or an If-Range for another version get the whole file, as
    RFC 9110 allows a server to answer.
    """
    match = _RANGE.fullmatch(request.META.get("HTTP_RANGE", "").strip())
    if match is None or not any(match.groups()):
        return None
    if_range = request.META.get("HTTP_IF_RANGE")
    if if_range is not None and if_range != _etag(media):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        first, last = max(0, size - int(last)), size - 1
    else:
        first, last = int(first), min(int(last), size - 1) if last else size - 1
    if first >= size or first > last:
        return "unsatisfiable"
    return first, last


def _file_response(media: MediaFile, handle: object, size: int, wanted: tuple[int, int] | None) -> FileResponse:
    name = media.file_name or media.file.name.rsplit("/", 1)[-1]
    as_attachment = not media.inline
    content_type = media.content_type or "application/octet-stream"
    if wanted is None:
        response = FileResponse(handle, content_type=content_type, as_attachment=as_attachment, filename=name)
    else:
        first, last = wanted
        handle.seek(first)
        response = FileResponse(
            _Slice(handle, last - first + 1), content_type=content_type, as_attachment=as_attachment, filename=name
        )
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    for header, value in _headers(media).items():
        response[header] = value
    return response


def _headers(media: MediaFile) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        # Opened on its own, a file can run nothing and load nothing.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
        "Accept-Ranges": "bytes",
    }
    if media.sha256:
        headers["ETag"] = _etag(media)
    return headers


def _etag(media: MediaFile) -> str:
    return f'"{media.sha256}"' if media.sha256 else ""


class _Slice:
    """`length` bytes of an open file from where it stands: the body of a 206."""

    def __init__(self, handle: object, length: int) -> None:
        self.handle, self.left = handle, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size) if size else b""
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


# -------------------------------------------------------------------------------------------------
# How a message's file is shown: the conversation and the message's admin page, one template.


def kept_file(message: Message) -> MediaFile | None:
    try:
        return message.media
    except MediaFile.DoesNotExist:
        return None


def media_url(media: MediaFile) -> str:
    return reverse("media-file", args=[media.pk])


def media_json(media: MediaFile | None) -> dict | None:
    """A message's file in the JSON API: its state, and where to GET it with the same token."""
    if media is None:
        return None
    stored = media.state == MediaFile.State.STORED
    return {
        "state": media.state,
        "url": media_url(media) if stored else None,
        "fileName": media.file_name,
        "contentType": media.content_type or None,
        "size": media.size,
        "reason": media.reason,
    }


def media_html(message: Message) -> SafeString:
    """The file of `message` as staff see it: a picture, a player, a link, or why it is not here."""

    media = kept_file(message)
    context = {
        "media": media,
        "url": media_url(media) if media and media.state == MediaFile.State.STORED else "",
        "name": (media.file_name if media else "") or message.file_name or type_label(message.type_message),
        "link": web_link(message.media_url),
        "message": message,
    }
    return SafeString(render_to_string("admin/whatsapp/media.html", context).strip())
