"""`manage.py jobs_retry`: failed background jobs run again, once their cause is fixed."""

import uuid
from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError
from django_tasks_db.models import DBTaskResult

from jobs.services import job_reason, jobs_retry


class Command(BaseCommand):
    help = "Run failed background jobs again (each gets all its attempts). Lists them with --dry-run."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("ids", nargs="*", help="ids of failed jobs (from the admin or --dry-run)")
        parser.add_argument("--all", action="store_true", help="every failed job")
        parser.add_argument("--dry-run", action="store_true", help="list the jobs, change nothing")

    def handle(self, *args: object, ids: list[str], all: bool, dry_run: bool, **options: object) -> None:
        if bool(ids) == all:
            raise CommandError("Name the failed jobs to retry by id, or pass --all.")
        failed = DBTaskResult.objects.failed().order_by("finished_at")
        if ids:
            bad = [value for value in ids if not _is_uuid(value)]
            if bad:
                raise CommandError(f"Not a job id: {', '.join(bad)}")
            found = list(failed.filter(pk__in=ids))
            missing = {str(uuid.UUID(value)) for value in ids} - {str(result.pk) for result in found}
            if missing:
                raise CommandError(f"No failed job with id {', '.join(sorted(missing))}.")
        else:
            found = list(failed)
        for result in found:
            self.stdout.write(f"{result.pk} {result.task_name}: {job_reason(result)}")
        if dry_run:
            self.stdout.write(f"{len(found)} failed job(s); nothing changed (--dry-run).")
            return
        count = jobs_retry(ids=[str(result.pk) for result in found])
        self.stdout.write(self.style.SUCCESS(f"{count} job(s) will run again."))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
