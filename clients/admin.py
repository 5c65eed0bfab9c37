"""Clients in the admin: the list staff start from, and each client's page as the conversation.

Declarations only; the actions beyond Django's own are in clients/admin_views.py, and the page as a
WhatsApp conversation (thread, reply box, export) is added by whatsapp/admin.py."""

from collections.abc import Collection
from datetime import datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Expression, F, QuerySet
from django.db.models.expressions import OrderBy
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from clients import admin_views, phones
from clients.models import Client, ClientActivity, ClientNumber
from clients.search import client_matches
from clients.services import client_number_lock
from crm.paginator import EstimatedCountPaginator


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


# The list's orders, each one index of client_activity (clients/migrations/0008).
LATEST_FIRST = F("activity__last_message_at").desc(nulls_last=True)
ACTIVITY = "activity__"


def _on_activity(item: str | OrderBy) -> str | OrderBy | None:
    """One term of the list's order as ClientActivity's own (its pk is the client's); None: not one of its columns."""
    if isinstance(item, str):
        sign, name = ("-", item[1:]) if item.startswith("-") else ("", item)
        if name == "pk" or name.startswith(ACTIVITY):
            return sign + name.removeprefix(ACTIVITY)
        return None
    if isinstance(item, OrderBy) and isinstance(item.expression, F) and item.expression.name.startswith(ACTIVITY):
        column = F(item.expression.name.removeprefix(ACTIVITY))
        return OrderBy(column, descending=item.descending, nulls_first=item.nulls_first, nulls_last=item.nulls_last)
    return None


class ClientListPaginator(EstimatedCountPaginator):
    """A deep page of the whole list, in an order of the activity's (the latest, the message count),
    takes its ids from that index alone: joined to the clients, every row skipped costs a probe of
    their primary key (the last of 2,000 pages: 0.25 s). Every client has its activity row, so the
    two lists are one; a search or a filter reads the clients, and takes the join."""

    def page_ids(self, rows: QuerySet, bottom: int, top: int) -> list:
        order = [_on_activity(item) for item in rows.query.order_by]
        if None in order or rows.query.where != Client.objects.with_activity().query.where:
            return super().page_ids(rows, bottom, top)
        return list(ClientActivity.objects.order_by(*order).values_list("pk", flat=True)[bottom:top])


class KindFilter(admin.SimpleListFilter):
    """People, or WhatsApp group chats (each a client of its own: its conversation)."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("person", "people"), ("group", "group chats")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Client]) -> QuerySet[Client]:
        if self.value() in ("person", "group"):
            return queryset.filter(whatsapp_group__isnull=self.value() == "person")
        return queryset


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


STAFF_KINDS = (ClientNumber.Kind.PHONE, ClientNumber.Kind.LID)


class ClientNumberForm(forms.ModelForm):
    # A group's id is WhatsApp's, never typed: it is the group's client itself.
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in STAFF_KINDS], initial=ClientNumber.Kind.PHONE)

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
                .exclude(kind=ClientNumber.Kind.GROUP)
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
    list_display = ["name_or_number", "phone_display", "message_count", "last_message_at", "last_message"]
    list_filter = [KindFilter]
    search_fields = ["name", "phone", "whatsapp_id", "whatsapp_lid"]
    search_help_text = (
        "A name, a number written any way (+7 999 123-45-67, 8 (999) 123-45-67, 9991234567), or message text."
    )
    readonly_fields = ["created_at", "updated_at"]
    fields = ["name", "phone", "whatsapp_id", "whatsapp_lid", "created_at", "updated_at"]
    actions = [admin_views.export_csv, admin_views.merge]
    list_per_page = 50
    paginator = ClientListPaginator
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Client]:
        return super().get_queryset(request).with_activity()

    def get_ordering(self, request: HttpRequest) -> list[str | OrderBy]:
        # Whoever wrote last first (never wrote: last), then the newest client: one index.
        return [LATEST_FIRST, "-activity__client_created_at"]

    def has_merge_permission(self, request: HttpRequest, obj: Client | None = None) -> bool:
        # Merging edits the client kept and deletes the others. (Django offers an action when the
        # user has ANY of the permissions it lists: one name for both keeps it AND.)
        return self.has_change_permission(request, obj) and self.has_delete_permission(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Client | None = None) -> list:
        return [] if obj is not None and obj.is_group else list(self.inlines)

    def get_readonly_fields(self, request: HttpRequest, obj: Client | None = None) -> list[str]:
        if obj is not None and obj.is_group:
            # A group chat has no number of its own: it is found by its id, WhatsApp's.
            return ["whatsapp_group", "phone", "whatsapp_id", "whatsapp_lid", *self.readonly_fields]
        return list(self.readonly_fields)

    def get_fields(self, request: HttpRequest, obj: Client | None = None) -> list[str]:
        if obj is not None and obj.is_group:
            return ["name", "whatsapp_group", *self.readonly_fields]
        return list(self.fields)

    @admin.display(description="client", ordering="name")
    def name_or_number(self, obj: Client) -> str:
        shown = obj.name or obj.phone_display or obj.whatsapp_lid or obj.whatsapp_group or "—"
        if obj.is_group:
            badge = '<span class="badge-group" title="a WhatsApp group chat" style="{}">group</span>'
            style = "background:#d9ecff;color:#0b4f8a;border-radius:3px;padding:0 4px;font-size:11px"
            return format_html("{} " + badge, shown, style)
        return shown

    @admin.display(description="phone")
    def phone_display(self, obj: Client) -> str:
        return obj.phone_display

    @admin.display(description="messages", ordering="activity__message_count")
    def message_count(self, obj: Client) -> int:
        return obj.activity.message_count

    # Ascending puts the never-written first and descending last, the index's two directions.
    @admin.display(description="last message", ordering=F("activity__last_message_at").asc(nulls_first=True))
    def last_message_at(self, obj: Client) -> datetime | None:
        return obj.activity.last_message_at

    @admin.display(description="preview")
    def last_message(self, obj: Client) -> str:
        text = obj.activity.last_preview
        return text if len(text) <= 60 else text[:59] + "…"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Client], search_term: str
    ) -> tuple[QuerySet[Client], bool]:
        """A name, the number however it is written (or its end), or the text of the client's
        messages: each by an index (clients/search.py), never a scan of every message."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(client_matches(term, wrote=self.clients_who_wrote(term))), False

    def clients_who_wrote(self, term: str) -> Collection | Expression | None:
        """The ids of clients whose messages contain `term`, or a condition on each client (see
        clients.search.client_matches): messages are WhatsApp's (whatsapp/admin.py)."""
        return None
