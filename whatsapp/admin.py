from django.contrib import admin
from django.utils.html import format_html

from whatsapp.models import Instance, Message, Notification

PROVIDER_FIELDS = [
    "external_id",
    "instance_id",
    "chat_id",
    "chat_name",
    "sender_name",
    "sent_at",
    "notification",
]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "client",
        "direction",
        "type_message",
        "status",
        "preview",
    ]
    list_filter = ["direction", "status", "channel", "type_message", "created_at"]
    list_select_related = ["client"]
    search_fields = ["content", "client__name", "client__whatsapp_id", "external_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["client"]
    readonly_fields = [
        *PROVIDER_FIELDS,
        "id",
        "created_at",
        "updated_at",
        "notification_body",
    ]

    @admin.display(description="text")
    def preview(self, obj: Message) -> str:
        return (obj.content or "")[:80]

    @admin.display(description="notification as received")
    def notification_body(self, obj: Message) -> str:
        if obj.notification is None:
            return "—"
        return format_html("<pre>{}</pre>", obj.notification.body_pretty)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "type_webhook",
        "id_message",
        "instance_id",
        "outcome",
        "deliveries",
        "detail",
    ]
    list_filter = ["outcome", "type_webhook", "received_at"]
    search_fields = ["id_message", "detail"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in Notification._meta.fields if f.name != "body"] + ["body_formatted"]
    exclude = ["body"]

    @admin.display(description="body as received")
    def body_formatted(self, obj: Notification) -> str:
        return format_html("<pre>{}</pre>", obj.body_pretty)

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = [
        "id_instance",
        "wid",
        "state",
        "state_changed_at",
        "socket_status",
        "updated_at",
    ]
    readonly_fields = [f.name for f in Instance._meta.fields]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False
