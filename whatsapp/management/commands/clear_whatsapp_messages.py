from django.core.management.base import BaseCommand, CommandError, CommandParser

from whatsapp.cleanup import messages_clear, messages_count


class Command(BaseCommand):
    help = "Delete every WhatsApp message (clients stay). Asks first unless --noinput."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=50_000,
            help="Rows deleted per statement (progress is shown after each).",
        )

    def handle(self, *, interactive: bool, dry_run: bool, batch_size: int, **options: object) -> None:
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {batch_size}.")
        count = messages_count()
        if dry_run:
            self.stdout.write(f"Dry run: {count} WhatsApp messages would be deleted.")
            return
        if count == 0:
            self.stdout.write("No WhatsApp messages to delete.")
            return
        if interactive:
            answer = input(f"Delete {count} WhatsApp messages? Clients are kept. Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Cancelled: nothing was deleted.")
        deleted = messages_clear(batch_size=batch_size, progress=self._progress)
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} WhatsApp messages."))

    def _progress(self, done: int, total: int) -> None:
        if self.stdout.isatty() or total:
            self.stdout.write(
                f"  … {done}/{total} deleted",
                ending="\r" if self.stdout.isatty() else "\n",
            )
