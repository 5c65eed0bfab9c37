"""Background jobs in the admin: django-tasks-db's read-only list, with each job's attempts and
last error, and an action to run failed ones again (as `manage.py jobs_retry` does)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

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
