"""Background jobs in the admin: django-tasks-db's read-only list, with each job's attempts and
last error, and an action to run failed ones again (as `manage.py jobs_retry` does); the workers
seen lately, read-only."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from jobs.models import WorkerBeat
from jobs.services import job_reason, jobs_retry

admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class JobAdmin(DBTaskResultAdmin):
    list_display = (
        "id",
        "task_name",
        "status",
        "attempts",
        "last_error",
        "enqueued_at",
        "display_run_after",
        "finished_at",
    )
    list_filter = ("status", "task_path")
    actions = ["retry"]

    @admin.display(description="attempts")
    def attempts(self, obj: DBTaskResult) -> int:
        return len(obj.worker_ids)

    @admin.display(description="last error")
    def last_error(self, obj: DBTaskResult) -> str:
        return job_reason(obj) if obj.traceback else ""

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_tasks_database.change_dbtaskresult")

    @admin.action(description="Run the selected failed jobs again", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = jobs_retry(ids=[str(pk) for pk in queryset.values_list("pk", flat=True)])
        self.message_user(request, f"{count} failed job(s) will run again.", messages.SUCCESS)


@admin.register(WorkerBeat)
class WorkerBeatAdmin(admin.ModelAdmin):
    """The job workers seen lately: a worker whose last beat is older than JOBS_STALE_SECONDS is
    dead (its running job goes to another); one that stopped as asked is not listed."""

    list_display = ("worker_id", "host", "pid", "started_at", "beat_at", "alive")
    ordering = ("-beat_at",)
    readonly_fields = ("worker_id", "host", "pid", "started_at", "beat_at")

    @admin.display(description="alive", boolean=True)
    def alive(self, obj: WorkerBeat) -> bool:
        return obj.beat_at >= timezone.now() - timedelta(seconds=settings.JOBS_STALE_SECONDS)

    # Written by the workers alone.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WorkerBeat | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WorkerBeat | None = None) -> bool:
        return False
