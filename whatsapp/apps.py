from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"

    def ready(self) -> None:
        # Declares the periodic backfill and exports' clean-up in every process, so the worker
        # schedules them (jobs/services.py).
        from whatsapp import backfill, exports  # noqa: F401
