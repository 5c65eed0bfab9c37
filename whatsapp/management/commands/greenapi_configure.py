from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from whatsapp.greenapi import GreenAPI, GreenAPIError, wanted_settings


class Command(BaseCommand):
    help = (
        "Point the Green API instance at this CRM: webhook URL and our webhook token (or, with --polling, no "
        "webhook: greenapi_receive takes the queue), and the notification kinds the CRM needs. Prints what "
        "changed. (Green API applies settings within 5 minutes and reboots the instance.)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        how = parser.add_mutually_exclusive_group(required=True)
        how.add_argument("--webhook-url", help="https://<your-domain>/whatsapp/webhook")
        how.add_argument(
            "--polling",
            action="store_true",
            help="No webhook: notifications wait in Green API's queue for greenapi_receive (GREEN_API_RECEIVE=poll).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only show what would change.")
        parser.add_argument(
            "--no-token", action="store_true", help="Allow a webhook without a token (GREEN_API_WEBHOOK_TOKEN unset)."
        )

    def handle(
        self, *, webhook_url: str | None, polling: bool, dry_run: bool, no_token: bool, **options: object
    ) -> None:
        webhook_url = "" if polling else str(webhook_url)
        if not polling and not webhook_url.startswith(("https://", "http://")):
            raise CommandError(f"--webhook-url must be an http(s) URL, not {webhook_url!r}.")
        if not polling and not settings.GREEN_API_WEBHOOK_TOKEN and not no_token:
            raise CommandError(
                "GREEN_API_WEBHOOK_TOKEN is not set: anyone could post to the webhook. Set it (e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or pass --no-token."
            )
        try:
            api = GreenAPI.from_settings()
            current = api.get_settings()
            wanted = wanted_settings(webhook_url)
            changes = {key: value for key, value in wanted.items() if current.get(key) != value}
            if not changes:
                self.stdout.write(self.style.SUCCESS("Nothing to change: the instance is already set up."))
                return
            for key, value in changes.items():
                if key == "webhookUrlToken":
                    self.stdout.write(f"  {key}: {'set' if current.get(key) else 'empty'} → ours (not shown)")
                else:
                    self.stdout.write(f"  {key}: {current.get(key) or '(empty)'} → {value or '(empty)'}")
            if dry_run:
                self.stdout.write("Dry run: nothing was changed.")
                return
            if not api.set_settings(changes):
                raise CommandError("Green API did not save the settings (saveSettings is not true).")
        except GreenAPIError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Changed {len(changes)} setting(s). Green API applies them within 5 minutes.")
        )
