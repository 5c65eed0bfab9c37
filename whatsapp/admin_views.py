"""The client page as a WhatsApp conversation: the thread, its reply box and its export.

Registered on the client's admin by whatsapp/admin.py (ClientConversationAdmin), so that `clients`
needs nothing of `whatsapp`. Each view checks its permissions the way Django's admin does: a missing
object is a 404, a missing right a 403 (PermissionDenied).
"""

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from clients.models import Client
from crm.csv_export import csv_response, streamed
from whatsapp.media_views import media_html
from whatsapp.models import CONVERSATION_ORDER, Message

if TYPE_CHECKING:
    from whatsapp.attachments import Attachment

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
    page = _page(client, before, _moment(request, "received_before") if before else None).select_related("media")
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
    for message in thread:
        message.quoted_text = quoted.get(message.quoted_external_id, "")
        message.media_shown = media_html(message)
    return {
        "thread": thread,
        "thread_older": older,
        "thread_paged": before is not None,
        "can_send": request.user.has_perm(SEND_PERMISSION),
        "media_max_bytes": settings.MEDIA_MAX_BYTES,
    }


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
    header = [
        "id",
        "client",
        "client_whatsapp_id",
        "direction",
        "type",
        "status",
        "content",
        "media_url",
        "external_id",
        "created_at",
    ]
    # Values, not model instances: less work per row, which a large export is made of.
    columns = ["pk", "client__name", "client__whatsapp_id", "direction", "type_message", "status"]
    columns += ["content", "media_url", "external_id", "created_at"]
    rows = streamed(queryset.order_by("created_at").values_list(*columns))
    return csv_response(filename, header, rows)
