"""A job worker's heartbeat: how the workers tell a job whose worker died from one that runs long."""

from django.db import models
from django.utils import timezone


class WorkerBeat(models.Model):
    """A worker (`manage.py jobs_worker`) alive: it writes `beat_at` every little while from a
    thread of its own, whatever its job is doing; a worker that stops, or is killed, stops writing."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "jobs_workers"
        verbose_name = "job worker"

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.host}, pid {self.pid})"
