"""WhatsApp in the admin: messages, the notifications as Green API sent them, the instances."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from crm.csv_export import csv_response
from whatsapp.display import type_label
from whatsapp.media_views import media_html
from whatsapp.models import Instance, Message, Notification

PROVIDER_FIELDS = [
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
    """The types present, by their readable names; the URL keeps Green API's (?type_message=textMessage)."""

    title = "type"
    parameter_name = "type_message"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        kinds = Message.objects.order_by().values_list("type_message", flat=True).distinct()
        return sorted(((kind, type_label(kind)) for kind in kinds), key=lambda choice: choice[1])

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
    date_hierarchy = "created_at"
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

    @admin.action(permissions=["view"], description="Export selected messages as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Message]) -> HttpResponse:
        return messages_csv(queryset, "messages.csv")


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
    rows = (
        [
            m.pk,
            m.client.name,
            m.client.whatsapp_id or "",
            m.direction,
            m.type_message,
            m.status,
            m.content,
            m.media_url,
            m.external_id or "",
            m.created_at,
        ]
        for m in queryset.select_related("client").order_by("created_at").iterator(chunk_size=2000)
    )
    return csv_response(filename, header, rows)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["received_at", "type_webhook", "id_message", "instance_id", "outcome", "deliveries", "detail"]
    list_filter = ["outcome", "type_webhook", "received_at"]
    search_fields = ["id_message", "detail"]
    date_hierarchy = "received_at"
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


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ["id_instance", "wid", "state", "state_changed_at", "socket_status", "updated_at"]
    readonly_fields = [f.name for f in Instance._meta.fields]

    # What the instance last reported: kept by its notifications, never typed in.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Instance | None = None) -> bool:
        return False
