"""The job layer around django-tasks-db: retries, give-ups, jobs of dead workers, jobs_retry, the
admin's list of jobs per role, and the doctor's view of the queue."""

import io
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from conftest import make_jobs_due, run_jobs
from crm.testing.greenapi_fake import png
from jobs.models import WorkerBeat
from jobs.services import jobs_recover, worker_beat, worker_gone
from whatsapp.doctor import FAIL, OK, WARN, check_jobs
from whatsapp.models import MediaFile

pytestmark = pytest.mark.django_db

JOBS_URL = "/admin/django_tasks_database/dbtaskresult/"


def media_job(post_webhook, fake, **how) -> MediaFile:
    body = fake.media_notification(fake.add_file(png(), **how))
    post_webhook(body)
    return MediaFile.objects.get(message__external_id=body["idMessage"])


def failed_job(post_webhook, fake) -> DBTaskResult:
    media_job(post_webhook, fake, behaviour="refuse")
    for _ in range(5):
        run_jobs()
        make_jobs_due()
    job = DBTaskResult.objects.get()
    assert job.status == "FAILED"
    return job


def retry(*args: str) -> str:
    out = io.StringIO()
    call_command("jobs_retry", *args, stdout=out)
    return out.getvalue()


def test_jobs_retry_lists_failed_jobs_with_their_reason_and_runs_them_again(post_webhook, media_fake) -> None:
    job = failed_job(post_webhook, media_fake)
    out = retry("--all", "--dry-run")
    assert f"{job.pk} media_download: the file's host answered HTTP 500" in out
    assert DBTaskResult.objects.get().status == "FAILED", "--dry-run changes nothing"

    assert "1 job(s) will run again" in retry(str(job.pk))
    job.refresh_from_db()
    assert (job.status, job.worker_ids) == ("READY", [])


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "or pass --all"),
        (("--all", "5f0c0000-0000-0000-0000-000000000000"), "or pass --all"),
        (("nonsense",), "Not a job id: nonsense"),
        (("5f0c0000-0000-0000-0000-000000000000",), "No failed job with id 5f0c0000"),
    ],
)
def test_jobs_retry_with_bad_arguments_says_what_is_wrong(args, error) -> None:
    with pytest.raises(CommandError, match=error):
        retry(*args)


def test_a_job_left_running_by_a_dead_worker_runs_again_then_gives_up(post_webhook, media_fake) -> None:
    media = media_job(post_webhook, media_fake)
    job = DBTaskResult.objects.get()
    long_ago = timezone.now() - timedelta(hours=1)
    DBTaskResult.objects.filter(pk=job.pk).update(status="RUNNING", started_at=long_ago, worker_ids=["dead"])
    assert jobs_recover(older_than=timedelta(minutes=15)) == 1
    assert DBTaskResult.objects.get().status == "READY"

    DBTaskResult.objects.filter(pk=job.pk).update(status="RUNNING", started_at=long_ago, worker_ids=["dead"] * 5)
    assert jobs_recover(older_than=timedelta(minutes=15)) == 1
    job.refresh_from_db()
    assert job.status == "FAILED"
    media.refresh_from_db()
    assert media.state == MediaFile.State.FAILED
    assert "the worker stopped during the job" in media.reason


def test_a_job_running_for_less_than_the_limit_is_left_alone(post_webhook, media_fake) -> None:
    media_job(post_webhook, media_fake)
    DBTaskResult.objects.update(status="RUNNING", started_at=timezone.now(), worker_ids=["alive"])
    assert jobs_recover(older_than=timedelta(minutes=15)) == 0
    assert DBTaskResult.objects.get().status == "RUNNING"


def test_a_long_job_of_a_worker_that_still_beats_is_left_to_it(post_webhook, media_fake) -> None:
    media_job(post_webhook, media_fake)
    long_ago = timezone.now() - timedelta(hours=3)
    DBTaskResult.objects.update(status="RUNNING", started_at=long_ago, worker_ids=["exporting"])
    worker_beat(worker_id="exporting", host="host-a", pid=41)
    WorkerBeat.objects.update(started_at=long_ago - timedelta(hours=1))  # it started before the job
    assert jobs_recover(older_than=timedelta(minutes=2)) == 0
    assert DBTaskResult.objects.get().status == "RUNNING"

    # Its heartbeat goes quiet (the host died): then the job is another worker's.
    WorkerBeat.objects.filter(pk="exporting").update(beat_at=timezone.now() - timedelta(minutes=3))
    assert jobs_recover(older_than=timedelta(minutes=2)) == 1
    assert DBTaskResult.objects.get().status == "READY"


def test_a_job_retaken_goes_by_the_heartbeat_of_the_worker_that_has_it_now(post_webhook, media_fake) -> None:
    media_job(post_webhook, media_fake)
    long_ago = timezone.now() - timedelta(hours=1)
    # Its first worker still beats (it took other jobs since); the one running it now is silent.
    DBTaskResult.objects.update(status="RUNNING", started_at=long_ago, worker_ids=["alive", "silent"])
    worker_beat(worker_id="alive")
    assert jobs_recover(older_than=timedelta(minutes=2)) == 1


def test_a_worker_restarted_under_the_same_id_does_not_keep_the_jobs_its_last_run_left(
    post_webhook, media_fake
) -> None:
    media_job(post_webhook, media_fake)
    DBTaskResult.objects.update(
        status="RUNNING", started_at=timezone.now() - timedelta(minutes=5), worker_ids=["host-a"]
    )
    worker_beat(worker_id="host-a", starting=True)  # killed, then started again with --worker-id host-a
    assert jobs_recover(older_than=timedelta(minutes=2)) == 1


def test_a_worker_that_stops_as_asked_is_no_longer_counted(post_webhook, media_fake) -> None:
    worker_beat(worker_id="w1", host="host-a", pid=7)
    worker_beat(worker_id="w1")  # a second beat moves the time, keeps the row
    assert WorkerBeat.objects.get().host == "host-a"
    assert check_jobs().data["workers"] == 1
    worker_gone(worker_id="w1")
    assert check_jobs().data["workers"] == 0


def test_the_doctor_reports_the_queue_its_oldest_job_and_failures(post_webhook, media_fake) -> None:
    assert check_jobs().status == OK
    media_job(post_webhook, media_fake)
    check = check_jobs()
    assert (check.status, check.data["waiting"]) == (OK, 1)
    assert "oldest waiting since" in check.detail

    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(minutes=30))
    check = check_jobs()
    assert check.status == FAIL
    assert "start the worker" in check.fix

    # A retry put off until a minute ago has waited a minute, however long ago it was enqueued.
    DBTaskResult.objects.update(run_after=timezone.now() - timedelta(minutes=1))
    assert check_jobs().status == OK

    DBTaskResult.objects.all().delete()
    failed_job(post_webhook, media_fake)
    check = check_jobs()
    assert (check.status, check.data["failed"]) == (WARN, 1)
    assert "HTTP 500" in check.detail
    assert "jobs_retry" in check.fix


def test_the_doctor_command_shows_the_jobs_check(post_webhook, media_fake) -> None:
    media_job(post_webhook, media_fake)
    out = io.StringIO()
    with pytest.raises(SystemExit):  # Green API's webhook settings are not set up in this fake
        call_command("whatsapp_doctor", stdout=out)
    assert "background jobs: 1 waiting" in out.getvalue()


def person(*, superuser: bool = False, perms: tuple[str, ...] = ()) -> User:
    user = User.objects.create_user(
        email=f"{uuid.uuid4().hex[:8]}@example.com", password="x", is_staff=True, is_superuser=superuser
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user


@pytest.mark.parametrize(
    ("who", "status", "can_retry"),
    [
        ({"superuser": True}, 200, True),
        ({"perms": ("view_dbtaskresult",)}, 200, False),
        ({"perms": ("view_dbtaskresult", "change_dbtaskresult")}, 200, True),
        ({"perms": ("view_message",)}, 403, False),
    ],
    ids=["superuser", "view-only staff", "staff who may retry", "staff without the jobs"],
)
def test_staff_see_failed_jobs_with_their_reason_and_retry_them_if_allowed(
    client, post_webhook, media_fake, who, status, can_retry
) -> None:
    job = failed_job(post_webhook, media_fake)
    client.force_login(person(**who))
    page = client.get(JOBS_URL + "?status__exact=FAILED")
    assert page.status_code == status
    if status == 200:
        assert "the file&#x27;s host answered HTTP 500" in page.content.decode()
        assert ('value="retry"' in page.content.decode()) is can_retry
    client.post(JOBS_URL, {"action": "retry", "_selected_action": [str(job.pk)]})
    job.refresh_from_db()
    assert job.status == ("READY" if can_retry else "FAILED")
    if status == 200:
        assert client.get(f"{JOBS_URL}{job.pk}/change/").status_code == 200
