"""`manage.py jobs_worker`: the Procfile's `worker:` process.

django-tasks-db's own `db_worker` (same options), plus what it lacks: jobs that a worker which
died left running are taken again, at start and every little while, by whichever worker is alive;
and periodic jobs (jobs/services.py `periodic`) get a run when none is waiting.
"""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django_tasks_db.management.commands import db_worker

from jobs.services import jobs_recover, jobs_schedule

logger = logging.getLogger(__name__)


class Command(db_worker.Command):
    help = "Run background jobs (django-tasks-db's db_worker, recovering jobs of workers that died)."

    def handle(self, *args: object, **options: object) -> None:
        stale = timedelta(seconds=settings.JOBS_STALE_SECONDS)
        self._recover(stale)
        self._schedule(delay=False)  # a worker starting (after an outage, too) runs them at once
        if not options.get("batch"):
            threading.Thread(target=self._keep_recovering, args=(stale,), name="jobs-recover", daemon=True).start()
        super().handle(*args, **options)

    def _keep_recovering(self, stale: timedelta) -> None:
        stop = threading.Event()
        while not stop.wait(max(1.0, min(60.0, stale.total_seconds() / 4))):
            self._recover(stale)
            self._schedule(delay=True)
            connection.close()  # this thread's own connection; a new one next time

    def _schedule(self, *, delay: bool) -> None:
        try:
            jobs_schedule(delay=delay)
        except DatabaseError as error:
            logger.warning("Could not schedule the periodic jobs: %s", error)

    def _recover(self, stale: timedelta) -> None:
        try:
            if count := jobs_recover(older_than=stale):
                logger.warning("Took back %s job(s) left running by workers that stopped", count)
        except DatabaseError as error:
            logger.warning("Could not look for jobs left running: %s", error)
