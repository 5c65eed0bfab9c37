"""`manage.py greenapi_backfill`: messages Green API's history has and the CRM does not, stored."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from whatsapp.backfill import JOURNAL_MINUTES, messages_backfill, window_minutes
from whatsapp.greenapi import GreenAPI, GreenAPIError


class Command(BaseCommand):
    help = (
        "Store every message of the last N minutes that Green API's history has and the CRM does not (the "
        "webhook missed it), matched to its client as the webhook would, marked as recovered. Safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--minutes",
            type=int,
            help=f"How far back, 1..{JOURNAL_MINUTES} (default: since the last backfill, as the periodic job does).",
        )
        parser.add_argument(
            "--chats", type=int, default=50, help="Read the full history of at most this many active chats (50)."
        )

    def handle(self, *, minutes: int | None, chats: int, **options: object) -> None:
        if minutes is not None and not 1 <= minutes <= JOURNAL_MINUTES:
            raise CommandError(f"--minutes must be 1 to {JOURNAL_MINUTES} (Green API's journal keeps 24 hours).")
        if chats < 0:
            raise CommandError("--chats must be 0 or more.")
        try:
            api = GreenAPI.from_settings()
        except GreenAPIError as error:
            raise CommandError(str(error)) from None
        minutes = minutes or window_minutes()
        self.stdout.write(f"Looking at the last {minutes} min of instance {api.id_instance}'s history…")
        run = messages_backfill(api=api, minutes=minutes, max_chats=chats)
        self.stdout.write(
            f"{run.seen} message(s) in the history, {run.chats} active chat(s); "
            f"recovered {run.recovered} the CRM did not have."
        )
        for error in run.errors:
            self.stderr.write(self.style.WARNING(f"⚠️ {error}"))
        if run.errors:
            raise CommandError("Part of the history could not be read; run it again (what was found is stored).")
        self.stdout.write(self.style.SUCCESS("✅ Done."))
