"""`manage.py jobs_worker`: the Procfile's `worker:` process.

django-tasks-db's own `db_worker` (same options), plus what it lacks: a heartbeat (a thread of its
own writes the worker's `beat_at` every little while, whatever its job is doing); jobs that a worker
which died left running (it has not beaten for JOBS_STALE_SECONDS) are taken again, at start and
every little while, by whichever worker is alive; and periodic jobs (jobs/services.py `periodic`)
get a run when none is waiting.
"""

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django_tasks_db.management.commands import db_worker

from jobs.services import jobs_recover, jobs_schedule, worker_beat, worker_gone

logger = logging.getLogger(__name__)


class Command(db_worker.Command):
    help = "Run background jobs (django-tasks-db's db_worker, recovering jobs of workers that died)."

    def handle(self, *args: object, **options: object) -> None:
        stale = timedelta(seconds=settings.JOBS_STALE_SECONDS)
        worker_id = str(options["worker_id"])
        # Alive before it takes a job, so no other worker's recovery mistakes its first job for a lost one.
        self._beat(worker_id, starting=True)
        beating = threading.Event()
        threading.Thread(
            target=self._keep_beating, args=(worker_id, stale, beating), name="jobs-beat", daemon=True
        ).start()
        self._recover(stale)
        self._schedule(delay=False)  # a worker starting (after an outage, too) runs them at once
        if not options.get("batch"):
            threading.Thread(target=self._keep_recovering, args=(stale,), name="jobs-recover", daemon=True).start()
        try:
            super().handle(*args, **options)
        finally:
            beating.set()
            self._gone(worker_id)

    def _keep_beating(self, worker_id: str, stale: timedelta, stop: threading.Event) -> None:
        # Four beats in every JOBS_STALE_SECONDS: one late or failed write never makes it look dead.
        while not stop.wait(max(0.25, min(30.0, stale.total_seconds() / 4))):
            self._beat(worker_id)
            connection.close()  # this thread's own connection; a new one next time

    def _beat(self, worker_id: str, *, starting: bool = False) -> None:
        try:
            worker_beat(worker_id=worker_id, host=socket.gethostname(), pid=os.getpid(), starting=starting)
        except DatabaseError as error:
            logger.warning("Could not write the worker's heartbeat: %s", error)

    def _gone(self, worker_id: str) -> None:
        try:
            worker_gone(worker_id=worker_id)
        except DatabaseError as error:
            logger.warning("Could not remove the worker's heartbeat: %s", error)

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
