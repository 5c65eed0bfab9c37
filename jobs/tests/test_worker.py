"""The worker as the Procfile starts it (a real process on the test database): jobs wait while no
worker runs, run when one starts, and a job whose worker was killed is taken by the next one."""

import time

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from conftest import postgres_only
from crm.testing.greenapi_fake import png
from crm.testing.servers import database_url
from crm.testing.workers import Worker, wait_for
from whatsapp.doctor import check_jobs
from whatsapp.models import MediaFile

pytestmark = [postgres_only, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def worker(fake, media_root, **env: str) -> Worker:
    return Worker(
        database_url(connection.settings_dict),
        GREEN_API_URL=fake.url,
        GREEN_API_ID_INSTANCE=fake.id_instance,
        GREEN_API_TOKEN=fake.token,
        MEDIA_ROOT=str(media_root),
        MEDIA_FETCH_ALLOWED_HOSTS=f"localhost:{fake.server.port}",
        GREEN_API_BACKFILL_MINUTES="0",  # these tests count the media jobs alone
        **env,
    ).start()


def media_message(post_webhook, fake, url: str) -> MediaFile:
    body = fake.media_notification(url)
    assert post_webhook(body).status_code == 200
    return MediaFile.objects.get(message__external_id=body["idMessage"])


def files_in(folder) -> list:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_jobs_wait_without_a_worker_and_run_when_one_starts(post_webhook, media_fake, media_root) -> None:
    media = media_message(post_webhook, media_fake, media_fake.add_file(png(), "part.png"))
    time.sleep(1)
    assert MediaFile.objects.get(pk=media.pk).state == "waiting"
    assert check_jobs().data["waiting"] == 1

    running = worker(media_fake, media_root)
    try:
        assert wait_for(lambda: MediaFile.objects.get(pk=media.pk).state == "stored"), running.output()
    finally:
        assert running.stop() == 0, running.output()
    media.refresh_from_db()
    assert (media_root / media.file.name).read_bytes() == png()
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert check_jobs().data["waiting"] == 0


def test_a_job_whose_worker_was_killed_mid_download_is_done_once_by_the_next(
    post_webhook, media_fake, media_root
) -> None:
    url = media_fake.add_file(png(), delay=4)
    media = media_message(post_webhook, media_fake, url)
    first = worker(media_fake, media_root)
    assert wait_for(lambda: DBTaskResult.objects.filter(status="RUNNING").exists()), first.output()
    first.kill()
    assert DBTaskResult.objects.get().status == "RUNNING", "left running by a worker that is gone"

    media_fake.files[url.split("/")[-2]].delay = 0
    second = worker(media_fake, media_root, JOBS_STALE_SECONDS="1")
    try:
        assert wait_for(lambda: MediaFile.objects.get(pk=media.pk).state == "stored"), second.output()
    finally:
        second.stop()
        first.stop()  # its log, closed and removed
    job = DBTaskResult.objects.get()
    assert job.status == "SUCCESSFUL"
    assert len(job.worker_ids) == 2
    assert len(files_in(media_root)) == 1, "kept once"


def test_a_job_longer_than_jobs_stale_seconds_on_a_live_worker_is_not_taken_again(
    post_webhook, media_fake, media_root
) -> None:
    """As an export of millions of rows: it runs minutes past JOBS_STALE_SECONDS, its worker beating."""
    url = media_fake.add_file(png(), delay=5)
    media = media_message(post_webhook, media_fake, url)
    first = worker(media_fake, media_root, JOBS_STALE_SECONDS="1")
    assert wait_for(lambda: DBTaskResult.objects.filter(status="RUNNING").exists()), first.output()
    second = worker(media_fake, media_root, JOBS_STALE_SECONDS="1")
    try:
        assert wait_for(lambda: MediaFile.objects.get(pk=media.pk).state == "stored"), first.output()
        time.sleep(1.5)  # the second's recovery has looked again since
        assert "left running by workers that stopped" not in second.output()
    finally:
        second.stop()
        first.stop()
    job = DBTaskResult.objects.get()
    assert (job.status, len(job.worker_ids)) == ("SUCCESSFUL", 1), "one worker, never taken from it"
    assert media_fake.files[url.split("/")[-2]].fetches == 1
