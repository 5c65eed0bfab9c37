from django.core.management.base import BaseCommand, CommandParser

from whatsapp.models import Notification
from whatsapp.services import notification_replay


class Command(BaseCommand):
    help = "Process again the notifications whose processing failed (after a fix). Safe to repeat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", type=int, action="append", dest="ids", help="Only these notification ids.")
        parser.add_argument(
            "--include-waiting", action="store_true", help="Also statuses still waiting for their message."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be replayed.")

    def handle(self, *, ids: list[int] | None, include_waiting: bool, dry_run: bool, **options: object) -> None:
        outcomes = [Notification.Outcome.FAILED] + ([Notification.Outcome.WAITING] if include_waiting else [])
        queryset = Notification.objects.filter(outcome__in=outcomes).order_by("received_at", "id")
        if ids:
            queryset = Notification.objects.filter(pk__in=ids).order_by("received_at", "id")
        counts: dict[str, int] = {}
        for notification in queryset.iterator(chunk_size=500):
            if dry_run:
                self.stdout.write(f"would replay #{notification.pk} {notification}: {notification.detail}")
                continue
            receipt = notification_replay(notification=notification)
            counts[receipt.outcome] = counts.get(receipt.outcome, 0) + 1
            self.stdout.write(f"#{notification.pk} {notification}: {receipt.outcome} {receipt.detail}")
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing to replay"
        self.stdout.write(self.style.SUCCESS(f"Replayed: {summary}."))
