"""Background jobs: Django's tasks API (`django_tasks`, the backport of Django 6's `django.tasks`)
on the database backend of django-tasks-db.

A job is enqueued with `<job>.enqueue(...)` inside the caller's transaction: its row is written by
the same connection, so it commits with the data that asks for it, or not at all; with no worker
running it waits in the table. The library runs a job once and marks it FAILED when it raises.
What it leaves to us is written here once: retries with backoff, jobs of a worker that died,
giving up with a reason, and retrying by command.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus, task
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult, get_date_max

from crm.db import lock_key
from jobs.models import WorkerBeat

logger = logging.getLogger(__name__)

# A retry waits backoff_seconds, then twice as long each time, never more than this.
MAX_BACKOFF = timedelta(hours=6)
# A worker silent this long is not listed any more (the doctor counts those seen lately).
FORGET_WORKERS_AFTER = timedelta(days=1)


class GiveUp(Exception):
    """Raised by a job that cannot succeed however often it runs: it ends failed at once."""


class WorkerLost(Exception):
    """What a job that its worker left running ends with (see jobs_recover)."""


def _path(error: type[Exception]) -> str:
    return f"{error.__module__}.{error.__qualname__}"


@dataclass(frozen=True)
class Policy:
    attempts: int
    backoff_seconds: float
    # Called with the job's keyword arguments and the reason when the job ends failed for good,
    # so the job's own rows can say so (a file that could not be kept).
    on_give_up: Callable[[dict, str], None] | None = None

    def delay(self, attempt: int) -> timedelta:
        return min(timedelta(seconds=self.backoff_seconds * 2 ** (attempt - 1)), MAX_BACKOFF)


# Every declared job's policy, by the job's module path (what the task table stores).
POLICIES: dict[str, Policy] = {}


def job(
    *, attempts: int = 5, backoff_seconds: float = 60.0, on_give_up: Callable[[dict, str], None] | None = None
) -> Callable[[Callable[..., Any]], Task]:
    """Declare a module-level function as a job, run up to `attempts` times with backoff."""

    def declare(function: Callable[..., Any]) -> Task:
        declared = task(function)
        POLICIES[declared.module_path] = Policy(attempts, backoff_seconds, on_give_up)
        return declared

    return declare


def job_policy(task_path: str) -> Policy | None:
    """The policy of the job at `task_path`; importing its module declares it, in any process."""
    if task_path not in POLICIES:
        try:
            import_string(task_path)
        except ImportError:
            return None
    return POLICIES.get(task_path)


def job_reason(result: DBTaskResult) -> str:
    """The last error of a job in one line: the exception's own words, as the traceback ends."""
    lines = [line.strip() for line in result.traceback.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].removeprefix(f"{result.exception_class_path}: ")[:500]


def job_finished(*, sender: object, task_result: Any, **kwargs: Any) -> None:
    """After each run (the library's task_finished signal): retry a failed job, or give up; a
    periodic job that is done (either way) gets its next run."""
    if task_result.status != TaskResultStatus.FAILED:
        _schedule_next(task_result.task.module_path)
        return
    policy = job_policy(task_result.task.module_path)
    if policy is None:
        return
    # Never raise from here: the library sends this signal from its own error handling, and an
    # exception would stop the worker.
    try:
        result = DBTaskResult.objects.get(pk=task_result.id)
        if result.exception_class_path == _path(GiveUp) or len(result.worker_ids) >= policy.attempts:
            _give_up(result, policy)
            _schedule_next(result.task_path)
        else:
            _retry_later(result, policy)
    except DatabaseError:
        logger.exception("Job %s failed, and could not be retried", task_result.id)


def _retry_later(result: DBTaskResult, policy: Policy) -> None:
    attempt = len(result.worker_ids)
    at = timezone.now() + policy.delay(attempt)
    DBTaskResult.objects.filter(pk=result.pk, status=TaskResultStatus.FAILED).update(
        status=TaskResultStatus.READY, run_after=at, finished_at=None
    )
    logger.warning(
        "Job %s %s failed (attempt %s of %s), runs again at %s: %s",
        result.task_name,
        result.pk,
        attempt,
        policy.attempts,
        at.isoformat(timespec="seconds"),
        job_reason(result),
    )


def _give_up(result: DBTaskResult, policy: Policy) -> None:
    reason = job_reason(result)
    attempts = len(result.worker_ids)
    logger.error("Job %s %s failed for good after %s attempt(s): %s", result.task_name, result.pk, attempts, reason)
    if policy.on_give_up is not None:
        policy.on_give_up(result.args_kwargs.get("kwargs", {}), reason)


# ---------------------------------------------------------------------------------------------
# Periodic jobs. django-tasks has no scheduler, and a separate one (cron, celery beat) would be one
# more process to run and to watch. Instead a periodic job is a chain: when a run ends, however it
# ends, the next is enqueued with `run_after` set to its time; and every worker, at start and every
# minute, enqueues one that has no run waiting or running (the first run, or a chain broken by a
# deleted row). The check and the insert happen under one lock (PostgreSQL's advisory lock; SQLite
# serialises writers), so however many workers look at once, one run waits: never two.

PERIODIC: dict[str, Callable[[], float | None]] = {}


def periodic(*, every: Callable[[], float | None]) -> Callable[[Task], Task]:
    """Declare a job (`@periodic(every=…)` above `@job(…)`) to run every `every()` seconds; `every`
    returns None while the job is off (not configured)."""

    def declare(declared: Task) -> Task:
        PERIODIC[declared.module_path] = every
        return declared

    return declare


def jobs_schedule(*, delay: bool = False) -> int:
    """Each periodic job that has no run waiting or running gets one: now, or after its interval
    with `delay`. How many were enqueued."""
    return sum(_schedule(path, delay=delay) for path in list(PERIODIC))


def _schedule_next(task_path: str) -> None:
    if task_path in PERIODIC:
        _schedule(task_path, delay=True)


def _schedule(task_path: str, *, delay: bool) -> bool:
    seconds = PERIODIC[task_path]()
    if seconds is None:
        return False
    with transaction.atomic():
        lock_key("jobs.periodic", task_path)
        waiting = DBTaskResult.objects.filter(
            task_path=task_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
        )
        if waiting.exists():
            return False
        declared = import_string(task_path)
        run_after = timezone.now() + timedelta(seconds=seconds) if delay else None
        (declared.using(run_after=run_after) if run_after else declared).enqueue()
    return True


def worker_beat(*, worker_id: str, host: str = "", pid: int | None = None, starting: bool = False) -> None:
    """The worker `worker_id` is alive now (jobs_worker calls it as it starts, then every little
    while). Starting resets its start: a worker restarted under the same id runs none of the jobs
    its previous run left."""
    now = timezone.now()
    if starting:
        WorkerBeat.objects.update_or_create(
            pk=worker_id, defaults={"host": host[:255], "pid": pid, "started_at": now, "beat_at": now}
        )
    elif not WorkerBeat.objects.filter(pk=worker_id).update(beat_at=now):
        WorkerBeat.objects.get_or_create(
            pk=worker_id, defaults={"host": host[:255], "pid": pid, "started_at": now, "beat_at": now}
        )


def worker_gone(*, worker_id: str) -> None:
    """The worker stopped as asked: nothing of its runs, so nobody need wait for it to go quiet."""
    WorkerBeat.objects.filter(pk=worker_id).delete()


def workers_alive(*, within: timedelta) -> QuerySet[WorkerBeat]:
    return WorkerBeat.objects.filter(beat_at__gte=timezone.now() - within)


def jobs_recover(*, older_than: timedelta) -> int:
    """Jobs still RUNNING whose worker died (killed, its host gone): it has not beaten for
    `older_than`. A job that runs long on a live worker (an export of millions of rows) is left to
    it, however long it takes. A job of a worker that never beat (one older than the heartbeat) is
    taken when it started longer ago than `older_than`, as before.

    Each becomes READY again (or FAILED when it has had all its attempts), so another worker
    takes it.
    """
    recovered = 0
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        WorkerBeat.objects.filter(beat_at__lt=timezone.now() - FORGET_WORKERS_AFTER).delete()
        alive = dict(workers_alive(within=older_than).values_list("worker_id", "started_at"))
        stale = DBTaskResult.objects.running().filter(started_at__lt=cutoff).select_for_update(skip_locked=True)
        for result in stale:
            # Its worker beats, and has run since before it took this job (not restarted since).
            holder = result.worker_ids[-1] if result.worker_ids else None
            if holder in alive and alive[holder] <= result.started_at:
                continue
            policy = job_policy(result.task_path) or Policy(attempts=1, backoff_seconds=0)
            started = result.started_at.strftime("%Y-%m-%d %H:%M:%S")
            result.traceback = f"{_path(WorkerLost)}: the worker stopped during the job (it started at {started} UTC)"
            if len(result.worker_ids) >= policy.attempts:
                result.status, result.finished_at = TaskResultStatus.FAILED, timezone.now()
                result.exception_class_path = _path(WorkerLost)
                result.save(update_fields=["status", "finished_at", "exception_class_path", "traceback"])
                _give_up(result, policy)
            else:
                result.status, result.run_after = TaskResultStatus.READY, timezone.now()
                result.save(update_fields=["status", "run_after", "traceback"])
                logger.warning("Job %s %s was left by a worker that stopped; runs again", result.task_name, result.pk)
            recovered += 1
    return recovered


def jobs_retry(*, ids: list[str] | None = None) -> int:
    """Failed jobs (all, or those of `ids`) run again, with all their attempts."""
    failed = DBTaskResult.objects.failed()
    if ids is not None:
        failed = failed.filter(pk__in=ids)
    return failed.update(status=TaskResultStatus.READY, run_after=timezone.now(), finished_at=None, worker_ids=[])


@dataclass(frozen=True)
class QueueSummary:
    waiting: int  # ready to run now
    scheduled: int  # retries waiting for their time
    running: int
    failed: int
    oldest_waiting_at: datetime | None  # when the job that has waited longest became due
    latest_failure: str
    workers: int  # workers that beat within JOBS_STALE_SECONDS


def jobs_summary() -> QueueSummary:
    ready = DBTaskResult.objects.ready()
    waiting = ready.count()
    # A job waits from when it was due: its enqueueing, or the time its retry was put off to.
    now_jobs = ready.filter(run_after=get_date_max()).order_by("enqueued_at")
    put_off = ready.exclude(run_after=get_date_max()).order_by("run_after")
    due = [now_jobs.values_list("enqueued_at", flat=True).first(), put_off.values_list("run_after", flat=True).first()]
    oldest = min((at for at in due if at is not None), default=None)
    latest = DBTaskResult.objects.failed().order_by("-finished_at").first()
    return QueueSummary(
        waiting=waiting,
        scheduled=DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() - waiting,
        running=DBTaskResult.objects.running().count(),
        failed=DBTaskResult.objects.failed().count(),
        oldest_waiting_at=oldest,
        latest_failure=f"{latest.task_name} {latest.pk}: {job_reason(latest)}" if latest else "",
        workers=workers_alive(within=timedelta(seconds=settings.JOBS_STALE_SECONDS)).count(),
    )
