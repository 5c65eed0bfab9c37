from django.contrib import admin

from clients.models import Client


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "phone_display", "whatsapp_id", "created_at"]
    search_fields = ["name", "phone", "whatsapp_id", "whatsapp_lid"]
    readonly_fields = ["id", "whatsapp_lid", "created_at", "updated_at"]
    fields = [
        "id",
        "name",
        "phone",
        "whatsapp_id",
        "whatsapp_lid",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="phone")
    def phone_display(self, obj: Client) -> str:
        return obj.phone_display
