from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from clients.services import client_merge_step
        from clients.visibility import client_rule
        from inbox.services import conversations_merge, conversations_visible

        client_rule(lambda user: conversations_visible(user=user, prefix="conversation__"))
        client_merge_step(conversations_merge)
