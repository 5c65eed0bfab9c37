"""/whatsapp/media/<id>: a kept file, served through the application to signed-in staff allowed to
view messages, and to no one else; as its bytes say, never sniffed, attachments unless media."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import User
from clients.models import Client
from crm.testing.greenapi_fake import PDF, png
from whatsapp.models import MediaFile, Message

pytestmark = pytest.mark.django_db


def stored(content: bytes, content_type: str, file_name: str) -> MediaFile:
    client = Client.objects.create(name="Анна", whatsapp_id="79031234567")
    message = Message.objects.create(client=client, direction="inbound", type_message="imageMessage")
    name = default_storage.save(f"whatsapp/test/{uuid.uuid4()}", ContentFile(content))
    return MediaFile.objects.create(
        message=message, state="stored", file=name, content_type=content_type, file_name=file_name, size=len(content)
    )


def person(*, staff: bool, superuser: bool = False, perms: tuple[str, ...] = ()) -> User:
    user = User.objects.create_user(
        email=f"{uuid.uuid4().hex[:8]}@example.com", password="x", is_staff=staff, is_superuser=superuser
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user


@pytest.fixture
def photo(media_root) -> MediaFile:
    return stored(png(), "image/png", "фото 1.png")


def url(media: MediaFile) -> str:
    return f"/whatsapp/media/{media.pk}"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ({"staff": True, "superuser": True}, 200),
        ({"staff": True, "perms": ("view_message",)}, 200),
        ({"staff": True, "perms": ("view_client",)}, 403),
        ({"staff": False, "perms": ("view_message",)}, 302),
    ],
    ids=["superuser", "view-only staff", "staff without view_message", "not staff"],
)
def test_only_staff_allowed_to_view_messages_get_the_file(client, photo, who, status) -> None:
    client.force_login(person(**who))
    answer = client.get(url(photo))
    assert answer.status_code == status
    if status == 200:
        assert b"".join(answer.streaming_content) == png()
    else:
        assert not hasattr(answer, "streaming_content")


def test_nobody_signed_in_is_sent_to_the_login_page(client, photo) -> None:
    answer = client.get(url(photo))
    assert answer.status_code == 302
    assert answer["Location"].startswith("/admin/login/")


def test_a_picture_is_shown_in_the_page_and_never_sniffed(client, photo) -> None:
    client.force_login(person(staff=True, perms=("view_message",)))
    answer = client.get(url(photo))
    assert answer["Content-Type"] == "image/png"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Content-Disposition"].startswith("inline")
    assert "filename*=utf-8''%D1%84%D0%BE%D1%82%D0%BE%201.png" in answer["Content-Disposition"]
    assert answer["Cache-Control"] == "private, max-age=3600"


def test_a_document_is_an_attachment(client, media_root) -> None:
    document = stored(PDF, "application/pdf", "contract.pdf")
    client.force_login(person(staff=True, perms=("view_message",)))
    answer = client.get(url(document))
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="contract.pdf"'
    assert answer["Content-Type"] == "application/pdf"
    assert answer["X-Content-Type-Options"] == "nosniff"


def test_a_file_not_stored_or_not_there_is_404_not_500(client, photo) -> None:
    client.force_login(person(staff=True, superuser=True))
    assert client.get(f"/whatsapp/media/{uuid.uuid4()}").status_code == 404
    assert client.get("/whatsapp/media/not-a-uuid").status_code == 404
    MediaFile.objects.filter(pk=photo.pk).update(state="failed")
    assert client.get(url(photo)).status_code == 404
    MediaFile.objects.filter(pk=photo.pk).update(state="stored")
    default_storage.delete(photo.file.name)
    assert client.get(url(photo)).status_code == 404


def test_only_reading_is_allowed(client, photo) -> None:
    client.force_login(person(staff=True, superuser=True))
    assert client.post(url(photo)).status_code == 405
    assert client.head(url(photo)).status_code == 200
