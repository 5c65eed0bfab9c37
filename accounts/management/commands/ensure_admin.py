import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Create the first admin from DJANGO_SUPERUSER_EMAIL / DJANGO_SUPERUSER_PASSWORD unless a superuser exists. "
        "Without them, creates admin@example.com with a random password and prints it once "
        "(with --only-from-env, creates nothing: the Procfile's release line)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only-from-env",
            action="store_true",
            help="create the admin only when both variables are set; never a random password in a host's log",
        )

    def handle(self, *, only_from_env: bool, **options: object) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            return
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if only_from_env and not (email and password):
            if email or password:
                raise CommandError("Set both DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD to create the admin.")
            self.stdout.write("No admin yet: set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD to create one.")
            return
        email = email or "admin@example.com"
        if user_model.objects.filter(email__iexact=email).exists():
            raise CommandError(f"{email} exists but is not a superuser; make it one in the admin or the shell.")
        generated = password or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(email=email, password=generated)
        shown = "(from DJANGO_SUPERUSER_PASSWORD)" if password else generated
        self.stdout.write(self.style.SUCCESS(f"Created admin {email} with password {shown}"))
