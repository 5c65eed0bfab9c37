import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from whatsapp.demo_data import demo_data_load, demo_groups_load

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Add realistic demo clients (Russian, Kazakh, Brazilian numbers) and WhatsApp messages. Appends: "
        "nothing is deleted. PostgreSQL loads through COPY (a million messages in about a minute)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=1_000, help="New clients to add (default 1000).")
        parser.add_argument("--messages", type=int, default=10_000, help="Messages to add (default 10000).")
        parser.add_argument("--seed", type=int, default=None, help="Same seed, same names, texts and times.")
        parser.add_argument("--days", type=int, default=90, help="Spread messages over this many days back.")
        parser.add_argument(
            "--groups", type=int, default=0, help="WhatsApp group chats to add among the clients (default 0)."
        )

    def handle(
        self, *, clients: int, messages: int, seed: int | None, days: int, groups: int, **options: object
    ) -> None:
        if clients < 0 or messages < 0 or groups < 0 or days < 1:
            raise CommandError("--clients, --messages and --groups must be 0 or more, --days 1 or more.")
        self._started = time.monotonic()
        try:
            seeded = demo_data_load(clients=clients, messages=messages, seed=seed, days=days, progress=self._progress)
            in_groups = demo_groups_load(groups=groups, seed=seed, days=days)
        except ValueError as error:
            raise CommandError(str(error)) from error
        also = f" and {groups} group chats ({in_groups} messages)" if groups else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {seeded.messages} messages for {seeded.clients_used} clients "
                f"({seeded.clients_created} new){also} in {time.monotonic() - self._started:.1f} s."
            )
        )

    def _progress(self, what: str, done: int, total: int) -> None:
        tty = self.stdout.isatty()
        # Without a terminal (logs, CI) a line every tenth is enough to see it move.
        if not tty and done != total and done % max(total // 10, 1):
            return
        filled = BAR_WIDTH * done // max(total, 1)
        elapsed = time.monotonic() - self._started
        self.stdout.write(
            f"  {what:<8} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {elapsed:5.1f} s",
            ending="\r" if tty and done < total else "\n",
        )
