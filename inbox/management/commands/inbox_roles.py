from django.core.management.base import BaseCommand

from inbox.roles import roles_ensure


class Command(BaseCommand):
    help = "Create the groups Managers and Supervisors with their permissions (again, if someone changed them)."

    def handle(self, *args: object, **options: object) -> None:
        for name, count in roles_ensure().items():
            self.stdout.write(f"✅ {name}: {count} permissions")
