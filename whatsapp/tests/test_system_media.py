"""What several hosts run, together: two web processes and two job workers (the Procfile's `web:`
and `worker:` lines) on one PostgreSQL and its shared cache, files served by the Green API
stand-in, and a worker's host dying while it downloads.

Green API delivers each notification to whichever web process its load balancer picks, again when
it got no 200, and sometimes twice anyway; a host can die at any moment, its job half done. Then
every notification and message is still stored once, and every file is downloaded into storage and
kept once: the dead worker's job is taken back by the other once its heartbeat is silent for
JOBS_STALE_SECONDS, and nothing it left behind is kept.
"""

import hashlib
import os
import random
import signal
import threading

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from conftest import greenapi_env, payload, postgres_only
from crm.testing.greenapi_fake import OGG_OPUS, PDF, png
from crm.testing.servers import Gunicorn, database_url
from crm.testing.traffic import assert_stored_exactly_once, deliver, redeliver_until_accepted
from crm.testing.workers import Worker, wait_for
from whatsapp.media import media_download
from whatsapp.models import MediaFile

pytestmark = [postgres_only, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STALE_SECONDS = 6  # a download here takes milliseconds; the dead worker's job is taken back soon

# Real files' first bytes, each followed by as many bytes as a real file of its kind might have.
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"
KINDS = {
    "imageMessage": (png(32, 32), "image/png", "photo.png"),
    "audioMessage": (OGG_OPUS, "audio/ogg; codecs=opus", "voice.oga"),
    "documentMessage": (PDF, "application/pdf", "contract.pdf"),
    "videoMessage": (MP4, "video/mp4", "clip.mp4"),
    "stickerMessage": (WEBP, "image/webp", "sticker.webp"),
}


def media_notification(
    fake, kind: str, i: int, rng: random.Random, *, behaviour: str = "ok", least: int = 20_000
) -> tuple[dict, bytes]:
    """Green API's notification of a file `kind` from one of a few numbers, and the file's bytes
    (`least` to 300 KB), served by the stand-in at the notification's downloadUrl."""
    head, mime, name = KINDS[kind]
    content = head + rng.randbytes(rng.randrange(least, 300_000))
    body = payload(f"incomingMessageReceived.{kind}.json")
    body["idMessage"] = f"SYS-MEDIA-{i:06d}"
    body["senderData"]["chatId"] = body["senderData"]["sender"] = f"7910555{rng.randrange(12):04d}@c.us"
    data = body["messageData"]["fileMessageData"]
    data.update(downloadUrl=fake.add_file(content, name, behaviour=behaviour), fileName=name, mimeType=mime)
    data.pop("jpegThumbnail", None)
    return body, content


@pytest.fixture
def hosts(threaded_greenapi, media_root):
    """Two web processes and two workers as two hosts run them, all on the test database."""
    fake, url = threaded_greenapi, database_url(connection.settings_dict)
    shared = {
        **greenapi_env(fake),
        "MEDIA_ROOT": str(media_root),  # one storage, as a bucket every host writes to
        "REDIS_URL": "",  # the database cache, shared through PostgreSQL
    }
    webs = [Gunicorn(url, WEB_CONCURRENCY="2", **shared) for _ in range(2)]
    workers = {
        name: Worker(
            url,
            args=f"--worker-id {name}",
            MEDIA_FETCH_ALLOWED_HOSTS=f"{fake.server.host}:{fake.server.port}",
            MEDIA_FETCH_SECONDS="30",
            JOBS_STALE_SECONDS=str(STALE_SECONDS),
            GREEN_API_BACKFILL_MINUTES="0",  # the media jobs alone
            **shared,
        )
        for name in ("host-a", "host-b")
    }
    try:
        for web in webs:
            web.start()
        for worker in workers.values():
            worker.start()
        yield fake, [web.url for web in webs], workers
    finally:
        for worker in workers.values():
            if worker.process:
                worker.stop()
        for web in webs:
            if web.process:
                web.stop()


def test_two_hosts_store_every_file_once_though_one_worker_dies_mid_download(hosts, media_root) -> None:
    fake, urls, workers = hosts
    rng = random.Random(15)
    kinds = list(KINDS)
    # Two files the stand-in holds in flight on their first fetch until the test lets them go.
    late, late_content = media_notification(fake, "imageMessage", 0, rng, behaviour="held", least=200_000)
    held, held_content = media_notification(fake, "documentMessage", 1, rng, behaviour="held", least=200_000)
    files = {late["idMessage"]: late_content, held["idMessage"]: held_content}
    groups = []
    for i in range(2, 62):
        body, files[body["idMessage"]] = media_notification(fake, kinds[i % len(kinds)], i, rng)
        # Delivered once, twice or three times; the copies side by side, so they reach the two
        # web processes at the same moment.
        groups.append([body] * (1 + i % 3))
    rng.shuffle(groups)
    parts = [[body for group in groups[n : n + 20] for body in group] for n in (0, 20, 40)]
    traffic = [[late, *parts[0]], [held, *parts[1]], parts[2]]
    answers: list[dict[int, int | None]] = [{}, {}, {}]

    def arriving(n: int) -> threading.Thread:
        thread = threading.Thread(target=lambda: answers[n].update(deliver(urls, traffic[n], workers=16)))
        thread.start()
        return thread

    # A worker that only seemed dead (its host paused, heartbeat and all, mid-download) for longer
    # than JOBS_STALE_SECONDS: the other worker takes the job and keeps the file, then the first one
    # wakes and finishes too. Its copy is not kept.
    first = arriving(0)
    slow = name_downloading(late, fake, workers)
    workers[slow].signal(signal.SIGSTOP)
    try:
        assert wait_for(lambda: media_of(late).state == "stored", 60), workers[slow].output()[-3000:]
    finally:
        workers[slow].signal(signal.SIGCONT)
        fake.files[key(late)].release.set()
        first.join()
    late_job = download_job(late["idMessage"])
    assert late_job.worker_ids[0] == slow
    assert wait_for(lambda: finished(workers[slow], late_job), 60), workers[slow].output()[-3000:]

    # A worker's host dies mid-download while notifications arrive.
    second = arriving(1)
    try:
        killed = name_downloading(held, fake, workers)
        workers[killed].kill()
        # Killed while the stand-in still held the file's rest back: the download was in flight.
        assert fake.files[key(held)].served == 0
        assert download_job(held["idMessage"]).status == "RUNNING", "left running by a worker that is gone"
        assert media_of(held).state == "waiting"
        third = arriving(2)
    finally:
        fake.files[key(held)].release.set()
        second.join()
    third.join()
    (survivor,) = (name for name in workers if name != killed)

    bodies = [body for part in traffic for body in part]
    offsets = [0, len(traffic[0]), len(traffic[0]) + len(traffic[1])]
    codes = {offset + i: code for offset, got in zip(offsets, answers, strict=True) for i, code in got.items()}
    assert set(codes.values()) <= {200, 503}, set(codes.values())
    redeliver_until_accepted(urls, bodies, codes)
    assert_stored_exactly_once(bodies)

    assert wait_for(lambda: not MediaFile.objects.exclude(state="stored").exists(), 120), (
        f"files not stored: {list(MediaFile.objects.exclude(state='stored').values('state', 'reason'))}\n"
        + workers[survivor].output()[-3000:]
    )
    assert "Took back 1 job(s) left running by workers that stopped" in workers[survivor].output()
    assert_every_file_kept_once(files, media_root)
    jobs = download_jobs()
    assert jobs[held["idMessage"]].worker_ids == [killed, survivor], "the survivor did the dead one's job"
    assert len(jobs[late["idMessage"]].worker_ids) == 2
    for id_message, job in jobs.items():
        # A file is fetched again only by a job run again: never for a redelivery.
        assert fake.files[key_of(job)].fetches == len(job.worker_ids), id_message
    assert fake.files[key(held)].served == 1, "the dead worker's download never ended"


def name_downloading(body: dict, fake, workers: dict[str, Worker]) -> str:
    """The worker whose download of `body`'s file is in flight (the stand-in holds it)."""
    transfer = fake.files[key(body)]

    def in_flight() -> DBTaskResult | None:
        job = download_job(body["idMessage"])
        return job if job and job.status == "RUNNING" and transfer.fetches == 1 else None

    assert wait_for(lambda: in_flight() is not None, 60), {name: w.output()[-2000:] for name, w in workers.items()}
    return in_flight().worker_ids[-1]


def finished(worker: Worker, job: DBTaskResult) -> bool:
    """`worker` ended its run of `job` (the library logs each end)."""
    return f"Task id={job.pk} path={job.task_path} state=SUCCESSFUL" in worker.output()


def media_of(body: dict) -> MediaFile:
    return MediaFile.objects.get(message__external_id=body["idMessage"])


def key(body: dict) -> str:
    """The stand-in's key of the file a notification links to."""
    return body["messageData"]["fileMessageData"]["downloadUrl"].split("/")[-2]


def key_of(job: DBTaskResult) -> str:
    media = MediaFile.objects.select_related("message").get(pk=job.args_kwargs["kwargs"]["media_id"])
    return media.message.media_url.split("/")[-2]


def download_job(id_message: str) -> DBTaskResult | None:
    media = MediaFile.objects.filter(message__external_id=id_message).first()
    if media is None:
        return None
    return DBTaskResult.objects.filter(
        task_path=media_download.module_path, args_kwargs__kwargs__media_id=str(media.pk)
    ).first()


def download_jobs() -> dict[str, DBTaskResult]:
    """Every message's one download job, by idMessage: no file got two, none failed."""
    media = {str(m.pk): m.message.external_id for m in MediaFile.objects.select_related("message")}
    jobs = list(DBTaskResult.objects.filter(task_path=media_download.module_path))
    by_media = {job.args_kwargs["kwargs"]["media_id"]: job for job in jobs}
    assert len(jobs) == len(by_media) == len(media), "one download job per file, however often it was delivered"
    assert set(by_media) == set(media)
    assert {job.status for job in jobs} == {"SUCCESSFUL"}
    return {media[media_id]: job for media_id, job in by_media.items()}


def assert_every_file_kept_once(files: dict[str, bytes], media_root) -> None:
    kept = {m.message.external_id: m for m in MediaFile.objects.select_related("message")}
    assert set(kept) == set(files), "one MediaFile per message that carries a file"
    for id_message, media in kept.items():
        content = files[id_message]
        assert media.state == "stored", (id_message, media.reason)
        assert (media_root / media.file.name).read_bytes() == content, id_message
        assert (media.size, media.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    on_disk = sorted(os.path.relpath(path, media_root) for path in media_root.rglob("*") if path.is_file())
    assert on_disk == sorted(media.file.name for media in kept.values()), "no file twice, none left behind"
