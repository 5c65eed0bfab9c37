"""Clients in the admin: the list staff start from, and each client's page as the conversation."""

from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from clients import phones
from clients.models import Client, ClientNumber
from clients.services import client_merge, client_number_lock
from crm.csv_export import csv_response
from whatsapp.models import Message

THREAD_SIZE = 50


def number_taken(*, kind: str, value: str, client_pk: object) -> ValidationError | None:
    """A number typed in another form is the same number: name the client who already has it.

    Checked under the number's lock, held until the admin's transaction ends: a webhook creating a
    client with this number right now has committed before the check, or waits for the save."""
    client_number_lock(kind=kind, value=value)
    twin = Client.objects.filter(numbers__kind=kind, numbers__value=value).exclude(pk=client_pk).first()
    if twin is None:
        return None
    url = reverse("admin:clients_client_change", args=[twin.pk])
    shown = phones.display(value) if kind == ClientNumber.Kind.PHONE else f"{value}@lid"
    return ValidationError(format_html('<a href="{}">{}</a> already has the WhatsApp number {}.', url, twin, shown))


class ClientForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = ["name", "phone", "whatsapp_id", "whatsapp_lid"]

    def validate_unique(self) -> None:
        # Any client's number counts, main or not (ClientNumber).
        for field, kind in (("whatsapp_id", ClientNumber.Kind.PHONE), ("whatsapp_lid", ClientNumber.Kind.LID)):
            value = getattr(self.instance, field)
            error = value and number_taken(kind=kind, value=value, client_pk=self.instance.pk)
            if error:
                # A whatsapp_id filled in from the phone is the phone's error.
                self.add_error("phone" if field == "whatsapp_id" and field not in self.changed_data else field, error)
                return
        super().validate_unique()


class ClientNumberForm(forms.ModelForm):
    class Meta:
        model = ClientNumber
        fields = ["kind", "value"]

    def clean(self) -> dict:
        """Normalised and checked here, so a number another client has is refused with their name
        (before the model's own, nameless unique check)."""
        data = super().clean()
        if not data.get("kind") or not data.get("value"):
            return data
        number = ClientNumber(kind=data["kind"], value=data["value"])
        try:
            number.clean()
        except ValidationError as error:
            self.add_error(None, error)
            return data
        data["value"] = number.value
        error = number_taken(kind=number.kind, value=number.value, client_pk=self.instance.client_id)
        if error:
            self.add_error("value", error)
        return data

    def _get_validation_exclusions(self) -> set[str]:
        # The model's own unique check would refuse the client's main number that the form above is
        # replacing (its row goes when the client is saved, before this one is); clean() and the
        # formset check every other clash.
        return {*super()._get_validation_exclusions(), "value"}


class ClientNumberFormSet(forms.BaseInlineFormSet):
    """The client's numbers but the main ones, which are the client's own fields above."""

    def get_queryset(self) -> QuerySet[ClientNumber]:
        if not hasattr(self, "_others"):
            # As stored, not as the form above is changing them: the same rows on display and on save.
            stored = Client.objects.filter(pk=self.instance.pk).values("whatsapp_id", "whatsapp_lid").first() or {}
            self._others = (
                super()
                .get_queryset()
                .exclude(kind=ClientNumber.Kind.PHONE, value=stored.get("whatsapp_id"))
                .exclude(kind=ClientNumber.Kind.LID, value=stored.get("whatsapp_lid"))
            )
        return self._others

    def clean(self) -> None:
        super().clean()
        mains = {ClientNumber.Kind.PHONE: self.instance.whatsapp_id, ClientNumber.Kind.LID: self.instance.whatsapp_lid}
        seen = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data.get("value"):
                continue
            kind, value = form.cleaned_data["kind"], form.cleaned_data["value"]
            deleted, main = self._should_delete_form(form), mains.get(kind)
            if main and form.initial.get("value") == main and (form.has_changed() or deleted):
                # The row is becoming the main number's own: changing it would leave the main without one.
                form.add_error(None, f"{main} is now the main number: leave this row as it is.")
            elif deleted:
                continue
            elif value == main and form.has_changed():
                form.add_error("value", "This is the main number already.")
            elif (kind, value) in seen:
                form.add_error("value", "This number is in the list twice.")
            seen.add((kind, value))


class ClientNumberInline(admin.TabularInline):
    model = ClientNumber
    form = ClientNumberForm
    formset = ClientNumberFormSet
    fields = ["kind", "value", "source"]
    readonly_fields = ["source"]
    extra = 0
    verbose_name_plural = "Other WhatsApp numbers (messages from each of them find this client)"

    # A client's numbers are part of the client: whoever may change the client may change them.
    def has_view_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        return request.user.has_perm("clients.view_client") or self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        return request.user.has_perm("clients.change_client")

    def has_add_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        return self.has_change_permission(request, obj)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    form = ClientForm
    inlines = [ClientNumberInline]
    change_form_template = "admin/clients/client/change_form.html"
    list_display = ["name_or_number", "phone_display", "message_count", "last_message_at", "last_message"]
    search_fields = ["name", "phone", "whatsapp_id", "whatsapp_lid"]
    search_help_text = (
        "A name, a number written any way (+7 999 123-45-67, 8 (999) 123-45-67, 9991234567), or message text."
    )
    readonly_fields = ["created_at", "updated_at"]
    fields = ["name", "phone", "whatsapp_id", "whatsapp_lid", "created_at", "updated_at"]
    actions = ["export_csv", "merge"]
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[Client]:
        latest = Message.objects.filter(client=OuterRef("pk")).order_by("-created_at")
        # Not super(): it would order by get_ordering() before these annotations exist.
        return (
            self.model._default_manager.get_queryset()
            .annotate(
                n_messages=Count("messages"),
                last_at=Subquery(latest.values("created_at")[:1]),
                last_text=Subquery(latest.values("content")[:1]),
            )
            .order_by("-last_at", "-created_at")
        )

    def get_ordering(self, request: HttpRequest) -> list[str]:
        # Latest activity first: staff answer whoever wrote last. (NULLs — never wrote — last.)
        return ["-last_at", "-created_at"]

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

    # -----------------------------------------------------------------------------------------
    # The conversation on the client's page, and the reply box.

    def get_urls(self) -> list:
        return [
            path("<path:object_id>/send/", self.admin_site.admin_view(self.send_view), name="clients_client_send"),
            path(
                "<path:object_id>/export/", self.admin_site.admin_view(self.export_view), name="clients_client_export"
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        client = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if client is not None:
            context.update(self._thread(client, request.GET.get("before")))
        return super().change_view(request, object_id, form_url, context)

    def _thread(self, client: Client, before: str | None) -> dict:
        """The latest THREAD_SIZE messages (before a time, to page back), oldest first."""
        queryset = client.messages.all().order_by("-created_at")
        moment = parse_datetime(before) if before else None
        if moment:
            queryset = queryset.filter(created_at__lt=moment)
        page = list(queryset[: THREAD_SIZE + 1])
        older = page[THREAD_SIZE - 1].created_at.isoformat() if len(page) > THREAD_SIZE else None
        thread = list(reversed(page[:THREAD_SIZE]))
        quoted_ids = {m.quoted_external_id for m in thread if m.quoted_external_id}
        quoted = {
            m.external_id: m.content
            for m in Message.objects.filter(client=client, external_id__in=quoted_ids).only("external_id", "content")
        }
        for message in thread:
            message.quoted_text = quoted.get(message.quoted_external_id, "")
        return {"thread": thread, "thread_older": older, "thread_before": before or ""}

    def send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        from whatsapp.greenapi import GreenAPIError
        from whatsapp.outbound import message_send

        client = get_object_or_404(Client, pk=object_id)
        change_url = reverse("admin:clients_client_change", args=[client.pk])
        if request.method != "POST" or not self.has_change_permission(request, client):
            return HttpResponseRedirect(change_url)
        try:
            message = message_send(client=client, text=request.POST.get("text", ""))
        except ValueError as error:
            messages.error(request, str(error))
        except GreenAPIError as error:
            messages.error(request, f"Not sent: {error}")
        else:
            messages.success(request, f"Sent to {client} ({message.get_status_display()}).")
        return HttpResponseRedirect(change_url + "#reply")

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The whole conversation as CSV, streamed however long it is."""
        from whatsapp.admin import messages_csv

        client = get_object_or_404(Client, pk=object_id)
        if not self.has_view_permission(request, client):
            return HttpResponseRedirect(reverse("admin:index"))
        return messages_csv(client.messages.all(), f"conversation-{client.whatsapp_id or client.pk}.csv")

    # -----------------------------------------------------------------------------------------
    # Actions.

    @admin.action(description="Export selected clients as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Client]) -> HttpResponse:
        header = ["id", "name", "phone", "whatsapp_id", "whatsapp_lid", "messages", "last_message_at", "created_at"]
        rows = (
            [
                c.pk,
                c.name,
                c.phone_display,
                c.whatsapp_id or "",
                c.whatsapp_lid or "",
                c.n_messages,
                c.last_at,
                c.created_at,
            ]
            for c in queryset.iterator(chunk_size=2000)
        )
        return csv_response("clients.csv", header, rows)

    @admin.action(description="Merge selected clients (the same person)")
    def merge(self, request: HttpRequest, queryset: QuerySet[Client]) -> HttpResponse | None:
        # Offered first: the one with a WhatsApp number, then the most messages, then the oldest.
        clients = sorted(queryset, key=lambda c: (c.whatsapp_id is None, -c.n_messages, c.created_at))
        if len(clients) < 2:
            self.message_user(request, "Select at least two clients to merge.", messages.WARNING)
            return None
        if request.POST.get("keep"):
            keep = next((c for c in clients if str(c.pk) == request.POST["keep"]), None)
            if keep is None:
                self.message_user(request, "Choose one of the selected clients to keep.", messages.ERROR)
                return None
            others = [c for c in clients if c.pk != keep.pk]
            with transaction.atomic():
                moved = client_merge(keep=keep, others=others)
            self.message_user(request, f"Merged {len(others)} client(s) into {keep}: {moved} message(s) moved.")
            return None
        return TemplateResponse(
            request,
            "admin/clients/client/merge.html",
            {
                **self.admin_site.each_context(request),
                "clients": clients,
                "title": "Merge clients",
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
