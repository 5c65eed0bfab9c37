"""Media kept: a message's file fetched by the download job into our storage, with Green API (and its
file host) played by a real local HTTP server, and jobs run as the worker runs them."""

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from conftest import make_jobs_due, run_jobs
from crm.testing.greenapi_fake import OGG_OPUS, PDF, png
from whatsapp.media import media_enqueue
from whatsapp.models import MediaFile, Message

pytestmark = pytest.mark.django_db


def receive(post_webhook, fake, url: str, **kwargs) -> Message:
    """A media notification through the webhook, whose write path asks for the download."""
    body = fake.media_notification(url, **kwargs)
    assert post_webhook(body).status_code == 200
    return Message.objects.get(external_id=body["idMessage"])


def test_a_photo_is_kept_in_our_storage_with_its_type_read_from_its_bytes(post_webhook, media_fake, media_root) -> None:
    url = media_fake.add_file(png(), "IMG-001.jpg")
    message = receive(post_webhook, media_fake, url, mimeType="image/jpeg", fileName="IMG-001.jpg")
    assert message.media.state == MediaFile.State.WAITING

    run_jobs()

    media = MediaFile.objects.get(message=message)
    assert media.state == MediaFile.State.STORED, media.reason
    assert media.content_type == "image/png", "the bytes are a PNG, whatever the name and the notification say"
    assert media.size == len(png())
    assert default_storage.open(media.file.name).read() == png()
    assert (media_root / media.file.name).is_file()
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_a_voice_note_keeps_the_declared_audio_type_its_bytes_agree_with(post_webhook, media_fake) -> None:
    url = media_fake.add_file(OGG_OPUS, "voice.oga")
    message = receive(post_webhook, media_fake, url, kind="audioMessage", mimeType="audio/ogg; codecs=opus")
    run_jobs()
    media = MediaFile.objects.get(message=message)
    assert (media.state, media.content_type, media.inline) == ("stored", "audio/ogg", True)


def test_a_document_that_claims_to_be_a_picture_is_not_served_as_one(post_webhook, media_fake) -> None:
    url = media_fake.add_file(PDF, "cat.png")
    message = receive(post_webhook, media_fake, url, kind="documentMessage", mimeType="image/png")
    run_jobs()
    media = MediaFile.objects.get(message=message)
    assert (media.state, media.content_type, media.inline) == ("stored", "application/pdf", False)


@pytest.mark.parametrize("fast", [True, False])
def test_redeliveries_replays_and_edits_never_repeat_the_download(post_webhook, media_fake, settings, fast) -> None:
    from whatsapp.models import Notification
    from whatsapp.services import notification_replay

    settings.WEBHOOK_FAST_PATH = fast
    url = media_fake.add_file(png())
    body = media_fake.media_notification(url)
    for _ in range(3):
        assert post_webhook(body).status_code == 200
    notification_replay(notification=Notification.objects.get())
    edit = {
        **body,
        "idMessage": "EDIT-" + body["idMessage"],
        "messageData": {
            "typeMessage": "editedMessage",
            "editedMessageData": {"stanzaId": body["idMessage"], "caption": "a caption after all"},
        },
    }
    assert post_webhook(edit).json()["detail"] == f"editedMessage of {body['idMessage']}"
    run_jobs()
    with transaction.atomic():
        assert media_enqueue(message=Message.objects.get(external_id=body["idMessage"])) is None
    run_jobs()

    assert MediaFile.objects.count() == 1
    assert DBTaskResult.objects.count() == 1
    assert media_fake.files[url.split("/")[-2]].fetches == 1


def test_a_failed_download_is_not_lost_when_the_message_is_a_duplicate(post_webhook, media_fake) -> None:
    # chatwoot#15754: the first download failed, and every redelivery was then a duplicate.
    url = media_fake.add_file(png(), behaviour="refuse")
    body = media_fake.media_notification(url)
    post_webhook(body)
    run_jobs()
    assert MediaFile.objects.get().state == MediaFile.State.WAITING
    assert "HTTP 500" in MediaFile.objects.get().reason

    post_webhook(body)  # Green API delivers again: a duplicate message, the download still pending
    media_fake.files[url.split("/")[-2]].behaviour = "ok"
    make_jobs_due()
    run_jobs()
    assert MediaFile.objects.get().state == MediaFile.State.STORED


def test_the_job_commits_with_the_message_or_not_at_all(post_webhook, media_fake) -> None:
    first = receive(post_webhook, media_fake, media_fake.add_file(png()))

    @transaction.atomic
    def write_path_failing_after_the_enqueue() -> None:
        other = Message.objects.create(client=first.client, direction="inbound", type_message="imageMessage")
        media_enqueue(message=other)
        raise RuntimeError("the write path failed after asking for the download")

    with pytest.raises(RuntimeError):
        write_path_failing_after_the_enqueue()
    assert list(MediaFile.objects.values_list("message", flat=True)) == [first.pk]
    assert DBTaskResult.objects.count() == 1


@pytest.mark.parametrize("fast", [True, False])
def test_a_message_whose_job_cannot_be_kept_is_kept_as_failed_with_no_half_of_it(
    post_webhook, media_fake, settings, fast
) -> None:
    from django.db import connection

    from whatsapp.models import Notification

    settings.WEBHOOK_FAST_PATH = fast
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION reject_jobs() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'jobs table is read-only'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER reject_jobs BEFORE INSERT ON {DBTaskResult._meta.db_table} "
                "FOR EACH ROW EXECUTE FUNCTION reject_jobs()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER reject_jobs BEFORE INSERT ON {DBTaskResult._meta.db_table} "
                "BEGIN SELECT RAISE(ABORT, 'jobs table is read-only'); END"
            )
    body = media_fake.media_notification(media_fake.add_file(png()))
    assert post_webhook(body).json()["outcome"] == "failed"
    assert "jobs table is read-only" in Notification.objects.get().detail
    assert not Message.objects.exists()
    assert not MediaFile.objects.exists()


def test_messages_without_a_file_get_no_job(post_webhook, media_fake) -> None:
    from conftest import payload

    post_webhook(payload("incomingMessageReceived.textMessage.json"))
    assert Message.objects.exists()
    assert not MediaFile.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_an_expired_link_is_replaced_by_a_fresh_one_from_download_file(post_webhook, media_fake) -> None:
    url = media_fake.add_file(png(), id_message="EXPIRED1", behaviour="expired")
    message = receive(post_webhook, media_fake, url, id_message="EXPIRED1")
    run_jobs()

    media = MediaFile.objects.get(message=message)
    assert media.state == MediaFile.State.STORED, media.reason
    assert media_fake.download_requests == [{"chatId": "79031234567@c.us", "idMessage": "EXPIRED1"}]
    assert media.source_url != url


def test_a_file_whatsapp_no_longer_has_is_gone_and_not_retried(post_webhook, media_fake) -> None:
    url = media_fake.add_file(png(), behaviour="expired")  # and downloadFile knows no such message
    message = receive(post_webhook, media_fake, url)
    run_jobs()
    media = MediaFile.objects.get(message=message)
    assert media.state == MediaFile.State.GONE
    assert "no longer has the file" in media.reason
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_a_file_over_media_max_bytes_fails_at_once_with_its_reason(
    post_webhook, media_fake, settings, media_root
) -> None:
    settings.MEDIA_MAX_BYTES = 1000
    sized = receive(post_webhook, media_fake, media_fake.add_file(b"\xff" * 5000))
    unsized = receive(post_webhook, media_fake, media_fake.add_file(b"\xff" * 5000, behaviour="unsized"))
    run_jobs()
    for message in (sized, unsized):
        media = MediaFile.objects.get(message=message)
        assert media.state == MediaFile.State.FAILED
        assert "over MEDIA_MAX_BYTES" in media.reason
        assert not media.file
    jobs = DBTaskResult.objects.all()
    assert {job.status for job in jobs} == {"FAILED"}
    assert all(len(job.worker_ids) == 1 for job in jobs), "no retries for what cannot succeed"
    assert not [path for path in media_root.rglob("*") if path.is_file()], "nothing half-kept"


def test_a_host_that_does_not_answer_in_time_is_tried_again_later(post_webhook, media_fake, settings) -> None:
    settings.MEDIA_FETCH_SECONDS = 1.0
    url = media_fake.add_file(png(), delay=2.5)
    message = receive(post_webhook, media_fake, url)
    run_jobs()
    media = MediaFile.objects.get(message=message)
    assert media.state == MediaFile.State.WAITING
    assert "did not answer within 1 s; trying again" in media.reason
    job = DBTaskResult.objects.get()
    assert job.status == "READY", "retried later, with backoff"
    assert job.run_after > job.started_at


def test_a_download_that_keeps_failing_ends_failed_and_runs_again_by_command(post_webhook, media_fake) -> None:
    from django.core.management import call_command

    url = media_fake.add_file(png(), behaviour="refuse")
    message = receive(post_webhook, media_fake, url)
    delays = []
    for _ in range(5):
        run_jobs()
        job = DBTaskResult.objects.get()
        if job.status == "READY":
            delays.append((job.run_after - job.started_at).total_seconds())
        make_jobs_due()
    job = DBTaskResult.objects.get()
    assert job.status == "FAILED"
    assert len(job.worker_ids) == 5
    assert [round(d / 60) for d in delays] == [1, 2, 4, 8], "backoff doubles from a minute"
    media = MediaFile.objects.get(message=message)
    assert media.state == MediaFile.State.FAILED
    assert "HTTP 500" in media.reason

    media_fake.files[url.split("/")[-2]].behaviour = "ok"
    call_command("jobs_retry", "--all", stdout=open("/dev/null", "w"))
    run_jobs()
    assert MediaFile.objects.get(message=message).state == MediaFile.State.STORED
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_the_notifications_jpeg_thumbnail_is_kept_for_the_wait_and_nothing_else(post_webhook, media_fake) -> None:
    from conftest import payload

    thumbnail = payload("incomingMessageReceived.imageMessage.json")["messageData"]["fileMessageData"]["jpegThumbnail"]
    kept = []
    for given in (thumbnail, "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", '" onerror="alert(1)', ""):
        message = receive(post_webhook, media_fake, media_fake.add_file(png()), jpegThumbnail=given)
        kept.append(MediaFile.objects.get(message=message).thumbnail)
    assert kept == [thumbnail, "", "", ""], "a JPEG only: not a script, not markup"
