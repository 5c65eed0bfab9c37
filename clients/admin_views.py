"""The client admin's actions beyond Django's own: the list's CSV export and merge.

Each checks its permissions the way Django's admin does, and declares them so the admin offers it
only to who may use it. (The client page's conversation is WhatsApp's: whatsapp/admin_views.py.)
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from clients.models import Client
from clients.services import client_merge
from crm.csv_export import csv_response, streamed

# -------------------------------------------------------------------------------------------------
# Actions on the client list.


@admin.action(permissions=["view"], description="Export selected clients as CSV")
def export_csv(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Client]) -> HttpResponse:
    # The list's queryset: each client with its activity already (ClientAdmin.get_queryset).
    header = [
        "id",
        "name",
        "phone",
        "whatsapp_id",
        "whatsapp_lid",
        "messages",
        "last_message_at",
        "created_at",
        "whatsapp_group",
    ]
    rows = (
        [
            c.pk,
            c.name,
            c.phone_display,
            c.whatsapp_id or "",
            c.whatsapp_lid or "",
            c.activity.message_count,
            c.activity.last_message_at,
            c.created_at,
            c.whatsapp_group or "",
        ]
        for c in streamed(queryset)
    )
    return csv_response("clients.csv", header, rows)


@admin.action(permissions=["merge"], description="Merge selected clients (the same person)")
def merge(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Client]) -> HttpResponse | None:
    """A confirmation page to pick the client to keep, then the merge: the others are deleted."""
    # Offered first: the one with a WhatsApp number, then the most messages, then the oldest.
    clients = sorted(queryset, key=lambda c: (c.whatsapp_id is None, -c.activity.message_count, c.created_at))
    # Checked again here, as Django's delete action does: the action's declaration only hides it.
    if not all(model_admin.has_merge_permission(request, c) for c in clients):
        raise PermissionDenied
    if len(clients) < 2:
        model_admin.message_user(request, "Select at least two clients to merge.", messages.WARNING)
        return None
    if any(c.is_group for c in clients):
        # A group is one WhatsApp chat, found by its id: it is never a person's twin, nor another group's.
        model_admin.message_user(request, "A WhatsApp group cannot be merged: deselect it.", messages.ERROR)
        return None
    if not request.POST.get("keep"):
        return _merge_confirmation(model_admin, request, clients)
    keep = next((c for c in clients if str(c.pk) == request.POST["keep"]), None)
    if keep is None:
        model_admin.message_user(request, "Choose one of the selected clients to keep.", messages.ERROR)
        return None
    others = [c for c in clients if c.pk != keep.pk]
    with transaction.atomic():
        moved = client_merge(keep=keep, others=others, actor=request.user)
    model_admin.message_user(request, f"Merged {len(others)} client(s) into {keep}: {moved} message(s) moved.")
    return None


def _merge_confirmation(model_admin: admin.ModelAdmin, request: HttpRequest, clients: list[Client]) -> HttpResponse:
    return TemplateResponse(
        request,
        "admin/clients/client/merge.html",
        {
            **model_admin.admin_site.each_context(request),
            "clients": clients,
            "title": "Merge clients",
            "opts": model_admin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )
