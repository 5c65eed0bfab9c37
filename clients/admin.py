"""Clients in the admin: the list staff start from, and each client's page as the conversation.

Declarations only; the pages and actions beyond Django's own are in clients/admin_views.py."""

from datetime import datetime
from functools import partial

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import OrderBy
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.html import format_html

from clients import admin_views, phones
from clients.models import Client
from whatsapp.models import CONVERSATION_ORDER, Message


class ClientForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = ["name", "phone", "whatsapp_id", "whatsapp_lid"]

    def validate_unique(self) -> None:
        """A number typed in another form is the same number: name the client who already has it."""
        whatsapp_id = self.instance.whatsapp_id
        if whatsapp_id:
            twin = Client.objects.filter(whatsapp_id=whatsapp_id).exclude(pk=self.instance.pk).first()
            if twin is not None:
                url = reverse("admin:clients_client_change", args=[twin.pk])
                self.add_error(
                    "whatsapp_id" if "whatsapp_id" in self.changed_data else "phone",
                    ValidationError(
                        format_html(
                            '<a href="{}">{}</a> already has the WhatsApp number {}.',
                            url,
                            twin,
                            phones.display(whatsapp_id),
                        )
                    ),
                )
                return
        super().validate_unique()


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientForm
    change_form_template = "admin/clients/client/change_form.html"
    list_display = ["name_or_number", "phone_display", "message_count", "last_message_at", "last_message"]
    search_fields = ["name", "phone", "whatsapp_id", "whatsapp_lid"]
    search_help_text = (
        "A name, a number written any way (+7 999 123-45-67, 8 (999) 123-45-67, 9991234567), or message text."
    )
    readonly_fields = ["created_at", "updated_at"]
    fields = ["name", "phone", "whatsapp_id", "whatsapp_lid", "created_at", "updated_at"]
    actions = [admin_views.export_csv, admin_views.merge]
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Client]:
        return (
            super()
            .get_queryset(request)
            .annotate(n_messages=_count(), last_at=_latest("sent_at"), last_text=_latest("content"))
        )

    def get_ordering(self, request: HttpRequest) -> list[str | OrderBy]:
        # Whoever wrote last first (never wrote: last). An expression, not the list's annotation:
        # Django orders plain Client querysets by this too (the client field of a message's form).
        return [_latest("sent_at").desc(nulls_last=True), "-created_at"]

    def has_merge_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        # Merging edits the client kept and deletes the others. (Django offers an action when the
        # user has ANY of the permissions it lists: one name for both keeps it AND.)
        return self.has_change_permission(request, obj) and self.has_delete_permission(request, obj)

    def get_urls(self) -> list[URLPattern | URLResolver]:
        send = self.admin_site.admin_view(partial(admin_views.client_send, model_admin=self))
        export = self.admin_site.admin_view(partial(admin_views.client_export, model_admin=self))
        return [
            path("<path:object_id>/send/", send, name="clients_client_send"),
            path("<path:object_id>/export/", export, name="clients_client_export"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **admin_views.conversation(self, request, object_id)}
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description="client", ordering="name")
    def name_or_number(self, obj: Client) -> str:
        return obj.name or obj.phone_display or obj.whatsapp_lid or "—"

    @admin.display(description="phone")
    def phone_display(self, obj: Client) -> str:
        return obj.phone_display

    @admin.display(description="messages", ordering="n_messages")
    def message_count(self, obj: Client) -> int:
        return obj.n_messages

    @admin.display(description="last message", ordering="last_at")
    def last_message_at(self, obj: Client) -> datetime | None:
        return obj.last_at

    @admin.display(description="preview")
    def last_message(self, obj: Client) -> str:
        text = obj.last_text or ""
        return text if len(text) <= 60 else text[:59] + "…"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Client], search_term: str
    ) -> tuple[QuerySet[Client], bool]:
        """Names and numbers as Django searches them, plus: the number read as a phone however it is
        written, the digits contained in a stored number, and the text of the client's messages."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return found, duplicates
        extra = Q(Exists(Message.objects.filter(client=OuterRef("pk"), content__icontains=term)))
        whatsapp_id = phones.to_whatsapp_id(term)
        if whatsapp_id:
            extra |= Q(whatsapp_id=whatsapp_id)
        digits = phones.digits_only(term)
        if len(digits) >= phones.MIN_CONTAINED_DIGITS:
            extra |= Q(whatsapp_id__contains=digits)
        return found | queryset.filter(extra), duplicates


def _count() -> Coalesce:
    """The client's messages, counted for the rows shown rather than by joining every message: a
    join and GROUP BY over a million messages took seconds on every page of the list."""
    counted = Message.objects.filter(client=OuterRef("pk")).order_by().values("client").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n")), 0)


def _latest(column: str) -> Subquery:
    """A column of the client's latest message, as the conversation orders them."""
    return Subquery(Message.objects.filter(client=OuterRef("pk")).order_by(*CONVERSATION_ORDER).values(column)[:1])
