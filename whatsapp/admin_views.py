"""The client page as a WhatsApp conversation: the thread, its reply box and its export; and the
message list's exports too large to stream (*Your exports*).

Registered on the client's and the message's admins by whatsapp/admin.py (ClientConversationAdmin),
so that `clients` needs nothing of `whatsapp`. Each view checks its permissions the way Django's
admin does: a missing object is a 404, a missing right a 403 (PermissionDenied).
"""

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from clients.models import Client
from crm.csv_export import csv_response
from whatsapp import exports, notes, replies
from whatsapp.media_views import media_html
from whatsapp.models import CONVERSATION_ORDER, AutoReply, Message, MessageExport

if TYPE_CHECKING:
    from whatsapp.attachments import Attachment

logger = logging.getLogger(__name__)

THREAD_SIZE = 50
SEND_PERMISSION = "whatsapp.send_message"
READ_PERMISSION = "whatsapp.view_message"


def _client_or_404(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Client:
    # get_object answers None for an id that is not a UUID as for one that does not exist.
    client = model_admin.get_object(request, unquote(object_id))
    if client is None:
        raise Http404(f"No client with the id {object_id!r}.")
    return client


# -------------------------------------------------------------------------------------------------
# The conversation on the client's page.


def _moment(request: HttpRequest, name: str) -> datetime | None:
    """A time from the query string; a bad one is said and ignored (staff type these by hand too)."""
    value = request.GET.get(name, "")
    try:
        moment = parse_datetime(value) if value else None
    except ValueError:
        moment = None
    if value and moment is None:
        messages.warning(request, f"“{value}” is not a date and time (2024-01-15T10:30:00): the newest are shown.")
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _page(client: Client, before: datetime | None, received_before: datetime | None) -> QuerySet[Message]:
    """Messages older than a (sent_at, created_at) cursor, newest first: the ones that share a second
    with the last shown are not skipped. `sent_at <= before` lets the index start at the cursor."""
    queryset = client.messages.order_by(*CONVERSATION_ORDER)
    if before is None:
        return queryset
    if received_before is None:
        return queryset.filter(sent_at__lt=before)
    return queryset.filter(sent_at__lte=before).filter(Q(sent_at__lt=before) | Q(created_at__lt=received_before))


def conversation(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> dict:
    """The latest THREAD_SIZE messages (or those before `?before=`), oldest first, for the change page."""
    client = model_admin.get_object(request, unquote(object_id))
    if client is None or not request.user.has_perm(READ_PERMISSION):
        return {}
    before = _moment(request, "before")
    page = _page(client, before, _moment(request, "received_before") if before else None)
    page = page.select_related("media", "author")
    page = list(page[: THREAD_SIZE + 1])
    thread = list(reversed(page[:THREAD_SIZE]))
    older = None
    if len(page) > THREAD_SIZE:
        oldest = thread[0]
        older = urlencode({"before": oldest.sent_at.isoformat(), "received_before": oldest.created_at.isoformat()})
    quoted_ids = {m.quoted_external_id for m in thread if m.quoted_external_id}
    quoted = {
        m.external_id: m.content
        for m in Message.objects.filter(client=client, external_id__in=quoted_ids).only("external_id", "content")
    }
    automatic = set(AutoReply.objects.filter(message__in=[m.pk for m in thread]).values_list("message_id", flat=True))
    for message in thread:
        message.quoted_text = quoted.get(message.quoted_external_id, "")
        message.media_shown = media_html(message)
        message.automatic = message.pk in automatic
    return {
        "thread": _with_notes(request, client, thread, before=before, complete=older is None),
        "thread_older": older,
        "thread_paged": before is not None,
        "groups_written_in": _groups_written_in(model_admin, request, client),
        "can_send": request.user.has_perm(SEND_PERMISSION),
        "can_add_note": request.user.has_perm(notes.ADD_PERMISSION),
        "media_max_bytes": settings.MEDIA_MAX_BYTES,
    }


GROUPS_SHOWN = 50


def _groups_written_in(model_admin: admin.ModelAdmin, request: HttpRequest, client: Client) -> list[Client]:
    """The group chats whose messages `client` wrote (those the user may see), by the index on authors:
    their messages are the groups' conversations, not this client's."""
    if client.is_group:
        return []
    # The groups' ids first, from the index alone: as a subquery the planner walked every client by
    # name and probed the index for each (180 ms at 100,000 clients, for a client in no group).
    wrote = Message.objects.filter(author=client).order_by().values_list("client_id", flat=True).distinct()
    groups = list(wrote[:GROUPS_SHOWN])
    if not groups:
        return []
    return list(model_admin.get_queryset(request).filter(pk__in=groups).order_by("name", "pk")[:GROUPS_SHOWN])


def _with_notes(request: HttpRequest, client: Client, thread: list, *, before: datetime | None, complete: bool) -> list:
    """The page's messages with the private notes written in the time they span, in time order (a
    note's time is when it was written, a message's WhatsApp's). Notes older than the first message
    shown belong to an older page, unless there is none."""
    if not request.user.has_perm(notes.VIEW_PERMISSION):
        return thread
    after = None if complete or not thread else thread[0].sent_at
    found = notes.notes_between(client=client, after=after, before=before)
    for note in found:
        note.is_note, note.sent_at = True, note.created_at
    return sorted([*thread, *found], key=lambda item: item.sent_at)


# -------------------------------------------------------------------------------------------------
# Views of one client: reply, export.


@require_POST
def client_send(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """The reply box: sending reaches the client's phone, so it needs its own permission. A file
    attached goes with the text as its caption."""
    from whatsapp.greenapi import GreenAPIError
    from whatsapp.outbound import message_send
    from whatsapp.throttles import send_wait_seconds

    client = _client_or_404(model_admin, request, object_id)
    if not (model_admin.has_view_permission(request, client) and request.user.has_perm(SEND_PERMISSION)):
        raise PermissionDenied
    change_url = _back(request) or reverse("admin:clients_client_change", args=[client.pk])
    wait = send_wait_seconds(request=request)
    if wait is not None:
        messages.error(request, f"Not sent: you have sent too many messages; try again in {wait} s.")
        return HttpResponseRedirect(change_url + "#reply")
    try:
        attachment = _attachment(request)
        message = message_send(client=client, text=request.POST.get("text", ""), attachment=attachment)
    except ValueError as error:
        messages.error(request, str(error))
    except GreenAPIError as error:
        messages.error(request, f"Not sent: {error}")
    else:
        messages.success(request, f"Sent to {client} ({message.get_status_display()}).")
    return HttpResponseRedirect(change_url + "#reply")


@require_POST
def client_note(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """A private note in the conversation: kept here, never sent."""
    client = _client_or_404(model_admin, request, object_id)
    if not (model_admin.has_view_permission(request, client) and request.user.has_perm(notes.ADD_PERMISSION)):
        raise PermissionDenied
    try:
        notes.note_add(client=client, author=request.user, text=request.POST.get("text", ""))
    except ValueError as error:
        messages.error(request, f"Note not kept: {error}")
    else:
        messages.success(request, "Note kept (only staff see it).")
    back = _back(request) or reverse("admin:clients_client_change", args=[client.pk])
    return HttpResponseRedirect(back + "#thread")


@require_GET
def client_replies(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """The canned replies the reply box offers for `/shortcut`, rendered for this client and this user."""
    client = _client_or_404(model_admin, request, object_id)
    if not (model_admin.has_view_permission(request, client) and request.user.has_perm(SEND_PERMISSION)):
        raise PermissionDenied
    return JsonResponse({"replies": replies.replies_offered(user=request.user, client=client)})


def _back(request: HttpRequest) -> str:
    """Where the reply box was (the inbox's conversation), when it is a page of this site."""
    wanted = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted.split("#")[0] if wanted and safe else ""


def _attachment(request: HttpRequest) -> "Attachment | None":
    from whatsapp.attachments import attachment_checked

    upload = request.FILES.get("file")
    if getattr(request, "upload_refused", ""):  # whatsapp.attachments.SizeLimitedUpload
        raise ValueError(request.upload_refused)
    return None if upload is None else attachment_checked(upload=upload)


@require_GET
def client_export(request: HttpRequest, object_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """The whole conversation as CSV, streamed however long it is."""
    client = _client_or_404(model_admin, request, object_id)
    if not (model_admin.has_view_permission(request, client) and request.user.has_perm(READ_PERMISSION)):
        raise PermissionDenied
    return messages_csv(client.messages.all(), f"conversation-{client.whatsapp_id or client.pk}.csv")


def messages_csv(queryset: QuerySet[Message], filename: str) -> HttpResponse:
    """The messages of `queryset` as CSV, streamed as they are read (a selection up to EXPORT_STREAM_MAX_ROWS)."""
    return csv_response(filename, exports.HEADER, exports.message_rows(queryset))


# -------------------------------------------------------------------------------------------------
# Exports too large to stream: written by a job (whatsapp/exports.py), listed and downloaded here.


def export_started(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Message]) -> HttpResponse:
    """The message list's export action past EXPORT_STREAM_MAX_ROWS: the job is enqueued, and staff
    are sent to their exports, where it shows as it goes and is downloaded when ready."""
    selection = request.GET.copy()
    for internal in ("p", "o", "_changelist_filters"):
        selection.pop(internal, None)
    exports.export_request(queryset=queryset, user=request.user, selection=selection.urlencode())
    model_admin.message_user(
        request,
        f"More than {settings.EXPORT_STREAM_MAX_ROWS:,} messages: the CSV is being written in the background. "
        "It is listed here; download it when it is ready.",
        messages.SUCCESS,
    )
    return HttpResponseRedirect(reverse("admin:whatsapp_message_exports"))


def _may_read_messages(request: HttpRequest) -> None:
    if not request.user.has_perm(READ_PERMISSION):
        raise PermissionDenied


@require_GET
def exports_list(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """*Your exports*: each with its state, and its download once ready (a superuser sees everyone's)."""
    _may_read_messages(request)
    shown = list(exports.exports_visible(user=request.user).select_related("requested_by")[:100])
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Your exports" if not request.user.is_superuser else "Message exports",
        "exports": shown,
        "keep_days": settings.EXPORTS_KEEP_DAYS,
        # The page looks again by itself while an export is being written.
        "refresh": any(e.state in (MessageExport.State.WAITING, MessageExport.State.RUNNING) for e in shown),
    }
    return TemplateResponse(request, "admin/whatsapp/message/exports.html", context)


@require_GET
def export_download(request: HttpRequest, export_id: str, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    """The export's file, through the application: to who asked for it (or a superuser), allowed to
    view messages; as an attachment, never shown in the page."""
    _may_read_messages(request)
    export = MessageExport.objects.filter(pk=export_id).first()
    if export is None:
        raise Http404("No such export (exports are deleted after EXPORTS_KEEP_DAYS).")
    if not (request.user.is_superuser or export.requested_by_id == request.user.pk):
        raise PermissionDenied
    if export.state != MessageExport.State.READY:
        raise Http404("This export is not ready.")
    try:
        handle = default_storage.open(export.file.name, "rb")
    except FileNotFoundError:
        logger.warning("Export %s: its file %s is missing from the storage", export.pk, export.file.name)
        raise Http404("The file is missing from the storage.") from None
    except Exception:  # any storage's failure (S3 unreachable…): 503, never a 500 page
        logger.exception("Export %s: the storage could not be read", export.pk)
        return HttpResponse("The file storage cannot be reached; try again.", status=503, content_type="text/plain")
    response = FileResponse(
        handle, content_type="text/csv; charset=utf-8", as_attachment=True, filename=export.file_name
    )
    if export.size is not None:
        response["Content-Length"] = str(export.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
