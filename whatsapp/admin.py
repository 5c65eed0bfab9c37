"""WhatsApp in the admin: messages, the notifications as Green API sent them, the instances."""

import re
from functools import partial

from django.contrib import admin
from django.db.models import Expression, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.html import format_html

from clients.admin import ClientAdmin
from clients.models import Client
from clients.search import MIN_TEXT_CHARS, clients_with_number
from crm.paginator import EstimatedCountPaginator, planner_estimate
from whatsapp import admin_views
from whatsapp.admin_views import messages_csv
from whatsapp.content import CONTENT_PARSERS
from whatsapp.display import type_label
from whatsapp.exports import export_needed
from whatsapp.hours import hours_forget
from whatsapp.kinds import KINDS
from whatsapp.media_views import media_html
from whatsapp.models import CannedReply, Instance, Message, Notification, OpeningHours
from whatsapp.replies import SHARED_PERMISSION, CannedReplyForm, replies_visible, reply_may_edit

# What an idMessage looks like (BAE5F4886F9F1234, 3EB0C767D097B7D4A5A3): only such a word is looked
# up as one, so other searches keep to indexed conditions.
ID_MESSAGE = re.compile(r"[A-Za-z0-9_.:-]{10,128}")
# Messages a client search by text collects the writers of; past it, each client is probed (clients_who_wrote).
TEXT_SEARCH_COLLECT_MAX = 5000

PROVIDER_FIELDS = [
    "author",  # a group chat's participant, as WhatsApp said (never a list of every client)
    "external_id",
    "instance_id",
    "chat_id",
    "chat_name",
    "sender_name",
    "sent_at",
    "notification",
    "recovered_at",
]


class TypeFilter(admin.SimpleListFilter):
    """The types we read, by their readable names; the URL keeps Green API's (?type_message=textMessage).

    The choices are the declared ones, not the distinct values of millions of rows (a scan of the
    whole table on every page); a kind we keep without reading it still filters by its URL."""

    title = "type"
    parameter_name = "type_message"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        labels = {type_label(kind): kind for kind in sorted(CONTENT_PARSERS)}  # one choice per name
        return sorted(((kind, label) for label, kind in labels.items()), key=lambda choice: choice[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        return queryset.filter(type_message=self.value()) if self.value() is not None else queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "client_link", "direction", "type", "status", "preview"]
    list_filter = ["direction", "status", TypeFilter, "created_at", ("recovered_at", admin.EmptyFieldListFilter)]
    list_select_related = ["client"]
    search_fields = ["content", "client__name", "client__whatsapp_id", "external_id", "type_message"]
    search_help_text = (
        "Text, the client's name or number, an idMessage, or a type as Green API names it (imageMessage)."
    )
    # No date_hierarchy: its choices are the dates present, a scan of every message; the date
    # filter's choices (today, past 7 days…) are known.
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Chosen by search, never as a list of every client (and Django orders that list by ClientAdmin's ordering).
    autocomplete_fields = ["client"]
    # The file link is shown by `file`, as a link only when it is http(s); never as a field Django links itself.
    exclude = ["media_url"]
    readonly_fields = [*PROVIDER_FIELDS, "file", "id", "created_at", "updated_at", "notification_body"]
    actions = ["export_csv"]
    list_per_page = 100

    @admin.display(description="type", ordering="type_message")
    def type(self, obj: Message) -> str:
        return type_label(obj.type_message)

    @admin.display(description="file")
    def file(self, obj: Message) -> str:
        return media_html(obj) or obj.media_url or "—"

    @admin.display(description="client", ordering="client__name")
    def client_link(self, obj: Message) -> str:
        url = reverse("admin:clients_client_change", args=[obj.client_id])
        return format_html('<a href="{}#thread">{}</a>', url, obj.client)

    @admin.display(description="text")
    def preview(self, obj: Message) -> str:
        text = obj.content or ""
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="notification as received")
    def notification_body(self, obj: Message) -> str:
        notification = Notification.objects.filter(pk=obj.notification_id).first()
        if notification is None:
            return "—"
        return format_html("<pre>{}</pre>", notification.body_pretty)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Message], search_term: str
    ) -> tuple[QuerySet[Message], bool]:
        """Text by its trigram index, the client by name or number, an idMessage, a type name: each
        an indexed condition, so the database never reads every message to answer."""
        term = search_term.strip()
        if not term:
            return queryset, False
        clients = Q(name__icontains=term)
        numbers = clients_with_number(term)
        if numbers is not None:
            clients |= Q(pk__in=numbers)
        found = Q(client__in=Client.objects.filter(clients).values("pk"))
        if len(term) >= MIN_TEXT_CHARS:
            found |= Q(content__icontains=term)
        if ID_MESSAGE.fullmatch(term):
            found |= Q(channel="whatsapp", external_id=term)
        if term in CONTENT_PARSERS:
            found |= Q(type_message=term)
        return queryset.filter(found), False

    @admin.action(permissions=["view"], description="Export selected messages as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Message]) -> HttpResponse:
        """Streamed up to EXPORT_STREAM_MAX_ROWS; past it ("select all" of millions), a background job."""
        if export_needed(queryset):
            return admin_views.export_started(self, request, queryset)
        return messages_csv(queryset, "messages.csv")

    def get_urls(self) -> list[URLPattern | URLResolver]:
        exports = self.admin_site.admin_view(partial(admin_views.exports_list, model_admin=self))
        download = self.admin_site.admin_view(partial(admin_views.export_download, model_admin=self))
        return [
            path("exports/", exports, name="whatsapp_message_exports"),
            path("exports/<uuid:export_id>/download/", download, name="whatsapp_message_export_download"),
            *super().get_urls(),
        ]


class NotificationTypeFilter(admin.SimpleListFilter):
    """The kinds the webhook knows (whatsapp.kinds.KINDS), not a scan of every notification."""

    title = "type webhook"
    parameter_name = "type_webhook"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(kind, kind) for kind in sorted(KINDS)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        return queryset.filter(type_webhook=self.value()) if self.value() is not None else queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["received_at", "type_webhook", "id_message", "instance_id", "outcome", "deliveries", "detail"]
    list_filter = ["outcome", NotificationTypeFilter, "received_at"]
    search_fields = ["id_message", "detail"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [f.name for f in Notification._meta.fields if f.name != "body"] + ["body_formatted"]
    exclude = ["body"]

    @admin.display(description="body as received")
    def body_formatted(self, obj: Notification) -> str:
        return format_html("<pre>{}</pre>", obj.body_pretty)

    # The record of what Green API sent: staff read it, nobody edits or deletes it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


# Staff edit an instance's business hours (whatsapp/hours.py); everything else is what it last reported.
BUSINESS_HOURS_FIELDS = ["time_zone", "auto_reply_enabled", "auto_reply_text"]


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ["id_instance", "wid", "state", "state_changed_at", "socket_status", "auto_reply_enabled"]
    inlines = [OpeningHoursInline]
    fieldsets = [
        (None, {"fields": [f.name for f in Instance._meta.fields if f.name not in BUSINESS_HOURS_FIELDS]}),
        (
            "Business hours",
            {
                "fields": BUSINESS_HOURS_FIELDS,
                "description": (
                    "Outside the opening hours below (in the time zone above), a client who writes gets the "
                    "automatic reply, once per chat per day. A weekday without hours is closed all day."
                ),
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Instance | None = None) -> list[str]:
        # A new row is an instance not heard from yet: its id is typed, as GREEN_API_ID_INSTANCE says it.
        reported = [f.name for f in Instance._meta.fields if f.name not in BUSINESS_HOURS_FIELDS]
        return [name for name in reported if obj is not None or name != "id_instance"]

    def save_related(self, request: HttpRequest, form: object, formsets: list, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        hours_forget()  # this process at once; the others within hours.CONFIG_SECONDS


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Quick replies: shared ones and the user's own (see whatsapp/replies.py for who may do what)."""

    form = CannedReplyForm
    list_display = ["shortcut_shown", "whose", "preview", "updated_at"]
    search_fields = ["shortcut", "text"]

    @admin.display(description="shortcut", ordering="shortcut")
    def shortcut_shown(self, obj: CannedReply) -> str:
        return f"/{obj.shortcut}"

    @admin.display(description="whose")
    def whose(self, obj: CannedReply) -> str:
        return "shared" if obj.shared else f"personal ({obj.owner})"

    @admin.display(description="text")
    def preview(self, obj: CannedReply) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    def get_queryset(self, request: HttpRequest) -> QuerySet[CannedReply]:
        return replies_visible(user=request.user)

    def get_form(
        self, request: HttpRequest, obj: CannedReply | None = None, change: bool = False, **kwargs: object
    ) -> type:
        form = super().get_form(request, obj, change, **kwargs)
        form.user = request.user
        return form

    def get_fields(self, request: HttpRequest, obj: CannedReply | None = None) -> list[str]:
        return ["shortcut", "text", *(["shared"] if request.user.has_perm(SHARED_PERMISSION) else [])]

    def has_change_permission(self, request: HttpRequest, obj: CannedReply | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or reply_may_edit(user=request.user, reply=obj))

    def has_delete_permission(self, request: HttpRequest, obj: CannedReply | None = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or reply_may_edit(user=request.user, reply=obj))


class ClientConversationAdmin(ClientAdmin):
    """The client's page as their WhatsApp conversation, with its reply box and export: WhatsApp's part
    of the client admin, added here so that `clients` needs nothing of `whatsapp`."""

    change_form_template = "admin/clients/client/change_form.html"

    def get_urls(self) -> list[URLPattern | URLResolver]:
        send = self.admin_site.admin_view(partial(admin_views.client_send, model_admin=self))
        export = self.admin_site.admin_view(partial(admin_views.client_export, model_admin=self))
        note = self.admin_site.admin_view(partial(admin_views.client_note, model_admin=self))
        replies = self.admin_site.admin_view(partial(admin_views.client_replies, model_admin=self))
        return [
            path("<path:object_id>/send/", send, name="clients_client_send"),
            path("<path:object_id>/export/", export, name="clients_client_export"),
            path("<path:object_id>/note/", note, name="clients_client_note"),
            path("<path:object_id>/replies/", replies, name="clients_client_replies"),
            *super().get_urls(),
        ]

    def clients_who_wrote(self, term: str) -> list | Expression:
        """Who wrote `term`: the ids of the clients of the messages that contain it, collected by the
        trigram index while there are at most TEXT_SEARCH_COLLECT_MAX such messages (the planner's
        estimate first, then the rows themselves: reading stops one past it); past it (a common word,
        "доставка" in 5% of 3,000,000 messages) a condition each client of the list is probed with
        in the list's order, so a page of 50 reads a few thousand messages instead of collecting
        150,000. SQLite has no planner estimate: it collects up to the same limit.

        The probe is "the client's first such message IS NOT NULL", not EXISTS: PostgreSQL turns an
        EXISTS into a hashed subplan, which collects every matching message before the first row."""
        wrote = Message.objects.filter(content__icontains=term).order_by()
        probe = IsNull(Subquery(wrote.filter(client=OuterRef("pk")).values("pk")[:1]), False)
        if (planner_estimate(wrote) or 0) > TEXT_SEARCH_COLLECT_MAX:
            return probe
        writers = list(wrote.values_list("client_id", flat=True)[: TEXT_SEARCH_COLLECT_MAX + 1])
        return probe if len(writers) > TEXT_SEARCH_COLLECT_MAX else sorted(set(writers))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), **admin_views.conversation(self, request, object_id)}
        return super().change_view(request, object_id, form_url, context)


admin.site.unregister(Client)
admin.site.register(Client, ClientConversationAdmin)
