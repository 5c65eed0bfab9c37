import json
import sys

from django.core.management.base import BaseCommand, CommandParser

from whatsapp.doctor import FAIL, ICONS, diagnose


class Command(BaseCommand):
    help = (
        "Run the troubleshooting guide's checks: database, webhook token, Green API state and webhook settings, "
        "the last notification, failed notifications, clients the webhook would not find. Exits 1 when a check fails."
    )
    # The doctor is what runs when something is wrong, and its checks are the ones that matter
    # here: Django's system checks (URLs, admin, models; a quarter of its run) are `manage.py check`'s.
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the checks as JSON, for machines."
        )
        parser.add_argument(
            "--quiet-hours", type=int, default=24, help="Warn when no notification arrived for this long (default 24)."
        )

    def handle(self, *, as_json: bool, quiet_hours: int, **options: object) -> None:
        checks = diagnose(quiet_hours=quiet_hours)
        failed = any(check.status == FAIL for check in checks)
        if as_json:
            self.stdout.write(
                json.dumps(
                    {"ok": not failed, "checks": [check.as_dict() for check in checks]}, indent=2, ensure_ascii=False
                )
            )
        else:
            for check in checks:
                self.stdout.write(f"{ICONS[check.status]} {check.name}: {check.detail}")
                if check.fix and check.status != "ok":
                    self.stdout.write(f"   fix: {check.fix}")
        if failed:
            sys.exit(1)
