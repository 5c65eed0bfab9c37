"""Sending files: the admin's reply box and POST /whatsapp/messages, through Green API's
sendFileByUpload and sendFileByUrl (a real local server), stored first and kept in our storage."""

import hashlib
import os
import tracemalloc

import pytest
import requests
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from clients.models import Client
from conftest import grant, run_jobs
from crm.testing.greenapi_fake import PDF, FakeGreenAPI, StreamingHTTPServer, png
from whatsapp.attachments import attachment_checked
from whatsapp.greenapi import GreenAPIError
from whatsapp.models import MediaFile, Message
from whatsapp.outbound import message_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna() -> Client:
    return Client.objects.create(name="Анна", whatsapp_id="79031234567")


def upload(content: bytes = b"", name: str = "photo.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content or png(), content_type=content_type)


def nothing_written(fake) -> None:
    assert fake.sent_files == []
    assert fake.sent == []
    assert not Message.objects.exists()
    assert not MediaFile.objects.exists()


def test_a_photo_is_kept_then_uploaded_and_the_message_is_sent(media_fake, anna) -> None:
    message = message_send(client=anna, text="Ваш чек 🧾", attachment=attachment_checked(upload=upload()))
    assert media_fake.sent_files == [
        {
            "method": "sendFileByUpload",
            "chatId": "79031234567@c.us",
            "fileName": "photo.png",
            "caption": "Ваш чек 🧾",
            "content": png(),
            "idMessage": message.external_id,
        }
    ]
    assert (message.status, message.type_message, message.content) == ("sent", "imageMessage", "Ваш чек 🧾")
    media = MediaFile.objects.get(message=message)
    assert (media.state, media.content_type, media.size) == ("stored", "image/png", len(png()))
    assert default_storage.open(media.file.name).read() == png()
    assert message.media_url.startswith(media_fake.url), "Green API's urlFile"
    assert not DBTaskResult.objects.exists(), "nothing to download: it is ours already"


def test_a_document_without_caption_goes_as_a_document_with_its_name(media_fake, anna) -> None:
    message = message_send(
        client=anna, text="  ", attachment=attachment_checked(upload=upload(PDF, "../Счёт №5.pdf", "text/plain"))
    )
    sent = media_fake.sent_files[0]
    assert (sent["fileName"], sent["caption"]) == ("Счёт №5.pdf", "")
    assert (message.type_message, message.content) == ("documentMessage", "📄 Document: Счёт №5.pdf")
    assert MediaFile.objects.get().content_type == "application/pdf", "the bytes, not the browser's word"


def test_a_refused_upload_is_kept_as_failed_with_the_reason_and_the_file(media_fake, anna) -> None:
    media_fake.fail_with = 466
    with pytest.raises(GreenAPIError, match="quota"):
        message_send(client=anna, text="", attachment=attachment_checked(upload=upload()))
    message = Message.objects.get()
    assert message.status == "failed"
    assert "quota" in message.status_description
    assert MediaFile.objects.get(message=message).state == "stored"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"content": b"", "name": "empty.txt"}, "empty"),
        ({"content": b"MZ\x90\x00" + b"\x00" * 60, "name": "setup.pdf"}, "Programs and scripts"),
        ({"content": b"#!/bin/sh\nrm -rf /\n", "name": "notes.txt"}, "Programs and scripts"),
        ({"content": b"hello", "name": "run.bat"}, "ending .bat"),
    ],
)
def test_an_empty_file_or_a_program_is_refused_before_anything_is_written(media_fake, given, words) -> None:
    file = SimpleUploadedFile(given["name"], given["content"])
    with pytest.raises(ValueError, match=words):
        attachment_checked(upload=file)
    nothing_written(media_fake)


def test_a_file_over_media_max_bytes_is_refused(media_fake, settings) -> None:
    settings.MEDIA_MAX_BYTES = 10
    with pytest.raises(ValueError, match="over MEDIA_MAX_BYTES"):
        attachment_checked(upload=upload())


@pytest.mark.django_db(transaction=True)
def test_the_webhook_before_green_apis_answer_keeps_our_copy_on_the_one_message(media_fake, live_server) -> None:
    from django.db import transaction

    from whatsapp.media import media_enqueue

    anna = Client.objects.create(name="Анна", whatsapp_id="79031234567")

    def webhook_first(id_message: str) -> None:
        body = media_fake.media_notification(media_fake.add_file(png()), id_message=id_message)
        body["typeWebhook"] = "outgoingAPIMessageReceived"
        body["senderData"]["sender"] = media_fake.settings["wid"]
        assert requests.post(f"{live_server.url}/whatsapp/webhook", json=body, timeout=10).status_code == 200
        with transaction.atomic():  # what the webhook's write path asks (wired on another branch)
            media_enqueue(message=Message.objects.get(external_id=id_message))

    media_fake.before_answer = webhook_first
    message = message_send(client=anna, text="", attachment=attachment_checked(upload=upload()))
    assert Message.objects.count() == 1
    media = MediaFile.objects.get()
    assert (media.message_id, media.state) == (message.pk, "stored")
    run_jobs()
    assert MediaFile.objects.get().state == "stored"


# -------------------------------------------------------------------------------------------------
# POST /whatsapp/messages


def test_api_sends_an_uploaded_file_with_its_caption(api, media_fake, anna) -> None:
    answer = api.post("/whatsapp/messages", {"clientId": str(anna.pk), "text": "Фото", "file": upload()})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    media = MediaFile.objects.get()
    assert body["status"] == "sent"
    assert body["type"] == "imageMessage"
    assert body["media"]["state"] == "stored"
    assert body["media"]["url"] == f"/whatsapp/media/{media.pk}"
    assert api.get(body["media"]["url"]).status_code == 200, "the same token opens it"
    assert media_fake.sent_files[0]["caption"] == "Фото"


def test_api_sends_a_file_by_url_and_the_worker_keeps_our_copy(api, media_fake, anna) -> None:
    url = media_fake.add_file(PDF, "price.pdf")
    answer = api.post(
        "/whatsapp/messages", {"phone": "+7 903 123-45-67", "fileUrl": url}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["media"]["state"] == "waiting"
    sent = media_fake.sent_files[0]
    assert (sent["method"], sent["urlFile"], sent["fileName"]) == ("sendFileByUrl", url, "price.pdf")
    run_jobs()
    media = MediaFile.objects.get()
    assert (media.state, media.content_type) == ("stored", "application/pdf")
    assert Message.objects.get().type_message == "documentMessage"


@pytest.mark.parametrize(
    "body",
    [
        {"file": SimpleUploadedFile("empty.png", b"")},
        {"file": SimpleUploadedFile("virus.exe", b"hello")},
        {"file": SimpleUploadedFile("a.pdf", b"\x7fELF\x02\x01")},
        {"fileUrl": "ftp://example.com/a.pdf"},
        {"fileUrl": "https://example.com/a.pdf", "file": SimpleUploadedFile("a.pdf", PDF)},
        {"fileUrl": "https://example.com/tool.sh"},
    ],
    ids=["empty", "exe", "elf", "ftp", "both", "script-url"],
)
def test_api_refuses_bad_files_with_400_and_sends_nothing(api, media_fake, body) -> None:
    answer = api.post("/whatsapp/messages", {"phone": "+7 903 123-45-67", **body})
    assert answer.status_code == 400, answer.content
    assert answer.json()["detail"]
    nothing_written(media_fake)
    assert not Client.objects.exists()


def test_api_refuses_a_request_over_media_max_bytes_before_reading_it(api, media_fake, settings, anna) -> None:
    settings.MEDIA_MAX_BYTES = 1000
    answer = api.post("/whatsapp/messages", {"clientId": str(anna.pk), "file": upload(b"\x89PNG" + b"0" * 70_000)})
    assert answer.status_code == 400
    assert "MEDIA_MAX_BYTES" in answer.json()["detail"]
    nothing_written(media_fake)


def test_api_file_sending_needs_the_send_permission(client, media_fake, anna) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    viewer = grant(User.objects.create_user(email="viewer@example.com", password="pw"), "whatsapp.view_message")
    answer = client.post(
        "/whatsapp/messages",
        {"clientId": str(anna.pk), "file": upload()},
        headers={"Authorization": f"Bearer {AccessToken.for_user(viewer)}"},
    )
    assert answer.status_code == 403
    nothing_written(media_fake)


def test_api_files_count_against_the_send_limit(api, media_fake, anna) -> None:
    for _ in range(29):
        assert api.post("/whatsapp/messages", {"clientId": str(anna.pk), "text": "x"}).status_code == 201
    answers = [api.post("/whatsapp/messages", {"clientId": str(anna.pk), "file": upload()}) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 429], "SEND_RATE_PER_USER: 30/min, texts and files"
    assert (len(media_fake.sent_files), MediaFile.objects.count()) == (1, 1)


# -------------------------------------------------------------------------------------------------
# The admin's reply box


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="pw"))
    return client


def test_staff_attach_a_file_with_a_caption_in_the_reply_box(staff, media_fake, anna) -> None:
    answer = staff.post(
        f"/admin/clients/client/{anna.pk}/send/", {"text": "Договор", "file": upload(PDF, "dogovor.pdf")}, follow=True
    )
    assert "Sent to Анна" in answer.content.decode()
    assert media_fake.sent_files[0]["fileName"] == "dogovor.pdf"
    media = MediaFile.objects.get()
    assert f'href="/whatsapp/media/{media.pk}" download>📎 dogovor.pdf' in answer.content.decode()


def test_the_reply_box_refuses_a_program_and_says_why(staff, media_fake, anna) -> None:
    answer = staff.post(
        f"/admin/clients/client/{anna.pk}/send/", {"file": SimpleUploadedFile("x.exe", b"MZ")}, follow=True
    )
    assert "are not sent" in answer.content.decode()
    nothing_written(media_fake)


def test_the_reply_box_needs_the_send_permission_for_files_too(client, media_fake, anna) -> None:
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user(email="viewer@example.com", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)
    answer = client.post(f"/admin/clients/client/{anna.pk}/send/", {"file": upload()})
    assert answer.status_code == 403
    nothing_written(media_fake)


def test_the_reply_box_drops_a_file_over_media_max_bytes_as_it_arrives(staff, media_fake, anna, settings) -> None:
    settings.MEDIA_MAX_BYTES = 1000
    big = upload(b"\x89PNG" + b"0" * 70_000)
    answer = staff.post(f"/admin/clients/client/{anna.pk}/send/", {"text": "Фото", "file": big}, follow=True)
    assert "The file is over MEDIA_MAX_BYTES (1000 bytes): not sent." in answer.content.decode()
    nothing_written(media_fake)


@pytest.fixture
def streaming_fake(settings, media_root):
    """Green API on a server that reads a request's body only as its handler asks (a chunk at a
    time for uploads): in this process, so what it holds would count as the sender's."""
    server = StreamingHTTPServer()
    server.start()
    fake = FakeGreenAPI(server)
    fake.keep_uploads = False
    settings.GREEN_API_URL = fake.url
    settings.GREEN_API_ID_INSTANCE = fake.id_instance
    settings.GREEN_API_TOKEN = fake.token
    yield fake
    server.clear()
    server.stop()


def test_an_upload_is_streamed_from_storage_never_held_whole_in_memory(streaming_fake, anna) -> None:
    content = PDF + os.urandom(20 * 1024 * 1024)
    attachment = attachment_checked(upload=upload(content, "scan.pdf", "application/pdf"))
    tracemalloc.start()
    try:
        message = message_send(client=anna, text="", attachment=attachment)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sent = streaming_fake.sent_files[0]
    assert (sent["size"], sent["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
    assert message.status == "sent"
    # requests' own multipart body (`files=`) held the file twice over: 42 MiB. What is left is
    # mostly the stand-in's multipart parser, in this process too.
    assert peak < len(content), f"{peak / 2**20:.1f} MiB held while sending a 20 MiB file"
