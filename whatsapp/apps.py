from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"

    def ready(self) -> None:
        # Declares the periodic backfill in every process, so the worker schedules it (jobs/services.py).
        from whatsapp import backfill  # noqa: F401
