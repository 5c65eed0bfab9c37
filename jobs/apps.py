from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from django_tasks.signals import task_finished

        from jobs.services import job_finished

        # Connected here, not where a job is declared: the worker must retry a failed job even
        # when nothing in its process imported that job's module before it ran.
        task_finished.connect(job_finished, dispatch_uid="jobs.job_finished")
