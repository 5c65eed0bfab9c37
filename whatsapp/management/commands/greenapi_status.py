import sys

from django.core.management.base import BaseCommand, CommandParser

from whatsapp.greenapi import (
    RECOMMENDED_NOTIFICATIONS,
    REQUIRED_NOTIFICATIONS,
    GreenAPI,
    GreenAPIError,
    expected_webhook_url,
    instance_problems,
    token_status,
)


class Command(BaseCommand):
    help = (
        "Check the Green API instance: state, webhook URL, webhook token and notification kinds, against "
        "what the CRM needs. Exits 1 with the fix for each mismatch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--webhook-url", default="", help="The URL Green API must post to (default: PUBLIC_URL/whatsapp/webhook)."
        )

    def handle(self, *, webhook_url: str, **options: object) -> None:
        webhook_url = webhook_url or expected_webhook_url()
        try:
            api = GreenAPI.from_settings()
            state = api.get_state_instance()
            instance_settings = api.get_settings()
        except GreenAPIError as error:
            self.stderr.write(self.style.ERROR(f"❌ {error}"))
            sys.exit(1)
        self.stdout.write(f"Instance {api.id_instance} at {api.base_url}")
        self.stdout.write(f"  state:          {state or 'unknown'}")
        self.stdout.write(f"  webhook URL:    {instance_settings.get('webhookUrl') or '(empty)'}")
        self.stdout.write(f"  webhook token:  {token_status(instance_settings)}")
        for key, what in {**REQUIRED_NOTIFICATIONS, **RECOMMENDED_NOTIFICATIONS}.items():
            on = instance_settings.get(key) == "yes"
            needed = "needed" if key in REQUIRED_NOTIFICATIONS else "recommended"
            self.stdout.write(f"  {'✅' if on else '❌'} {key:<26} {what} ({needed})")
        problems = instance_problems(state=state, instance_settings=instance_settings, webhook_url=webhook_url)
        if not webhook_url:
            self.stdout.write("  (set PUBLIC_URL or pass --webhook-url to check the webhook URL too)")
        if not problems:
            self.stdout.write(self.style.SUCCESS("✅ The instance is set up as the CRM needs."))
            return
        self.stdout.write(self.style.ERROR(f"❌ {len(problems)} problem(s):"))
        for problem in problems:
            self.stdout.write(f"  - {problem.what}\n    fix: {problem.fix}")
        sys.exit(1)
