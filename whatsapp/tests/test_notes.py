"""Private notes in a client's conversation: staff add them, they sit among the messages in time order,
marked as notes; only staff with the permission see them; never sent, never a message."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from clients.models import Client, ClientActivity
from conftest import grant, payload
from whatsapp.admin_views import THREAD_SIZE
from whatsapp.models import Message, Note

pytestmark = pytest.mark.django_db

READER = ("clients.view_client", "whatsapp.view_message", "whatsapp.view_note")
ROLES = {
    "note writer": (*READER, "whatsapp.add_note"),
    "reader": READER,
    "reader without notes": ("clients.view_client", "whatsapp.view_message"),
    "nobody": (),
}


def staff(role: str) -> User:
    user = User.objects.create_user(
        email=f"{role.replace(' ', '-')}@example.com", password="pw", is_staff=True, name="Ольга"
    )
    return grant(user, *ROLES[role])


@pytest.fixture
def anna() -> Client:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    now = timezone.now()
    for i, text in enumerate(["первое", "второе"]):
        Message.objects.create(
            client=anna,
            direction="inbound",
            content=text,
            external_id=f"NOTE-TEST-{i}",
            sent_at=now - timedelta(minutes=10 - i * 5),
            created_at=now - timedelta(minutes=10 - i * 5),
        )
    return anna


def page_of(client, anna: Client, **query: str) -> str:
    answer = client.get(reverse("admin:clients_client_change", args=[anna.pk]), query)
    assert answer.status_code == 200
    return answer.content.decode()


def note_url(anna: Client) -> str:
    return reverse("admin:clients_client_note", args=[anna.pk])


def test_a_note_is_kept_with_its_author_and_time_and_shown_in_the_thread_among_the_messages(client, anna) -> None:
    writer = staff("note writer")
    client.force_login(writer)
    Note.objects.create(
        client=anna,
        author=writer,
        author_name="Ольга",
        text="Звонила, просит перезвонить",
        created_at=timezone.now() - timedelta(minutes=7),
    )
    answer = client.post(note_url(anna), {"text": "  Клиент VIP, скидка 10%  "})
    assert answer.status_code == 302
    assert answer["Location"].endswith("#thread")
    note = Note.objects.get(text="Клиент VIP, скидка 10%")
    assert (note.author, note.author_name, note.client) == (writer, "Ольга", anna)
    assert timezone.now() - note.created_at < timedelta(minutes=1)
    html = page_of(client, anna)
    order = [html.index(text) for text in ["первое", "Звонила, просит перезвонить", "второе", "Клиент VIP"]]
    assert order == sorted(order)
    assert html.count("📝 Private note · Ольга") == 2
    assert html.count('class="note"') == 2


def test_notes_follow_the_thread_pages(client, anna) -> None:
    writer = staff("note writer")
    client.force_login(writer)
    old = timezone.now() - timedelta(days=30)
    Note.objects.create(client=anna, author=writer, author_name="Ольга", text="старая заметка", created_at=old)
    Message.objects.bulk_create(
        Message(
            client=anna, direction="inbound", content=f"m{i}", external_id=f"PAGE{i}", sent_at=old + timedelta(hours=i)
        )
        for i in range(THREAD_SIZE)
    )
    assert "старая заметка" not in page_of(client, anna)  # it belongs to an older page
    newest = page_of(client, anna)
    older = newest.split('href="?', 1)[1].split("#thread", 1)[0].replace("&amp;", "&")
    assert (
        "старая заметка"
        in client.get(reverse("admin:clients_client_change", args=[anna.pk]) + "?" + older).content.decode()
    )


def test_a_note_is_never_sent_counted_exported_or_unread(client, anna, fake_greenapi, api) -> None:
    before = ClientActivity.objects.values("message_count", "inbound_count", "unread_count", "last_preview").get(
        pk=anna.pk
    )
    stats = api.get("/whatsapp/stats").json()
    client.force_login(staff("note writer"))
    client.post(note_url(anna), {"text": "Только для своих"})
    assert Note.objects.count() == 1
    assert fake_greenapi.sent == []
    assert fake_greenapi.sent_files == []
    assert Message.objects.count() == 2
    assert (
        ClientActivity.objects.values("message_count", "inbound_count", "unread_count", "last_preview").get(pk=anna.pk)
        == before
    )
    after = api.get("/whatsapp/stats").json()
    assert (after["totalMessages"], after["messagesByDirection"]) == (
        stats["totalMessages"],
        stats["messagesByDirection"],
    )
    assert "Только для своих" not in str(after)
    grant(User.objects.get(email="note-writer@example.com"), "whatsapp.view_message")
    export = client.get(reverse("admin:clients_client_export", args=[anna.pk]))
    assert "Только для своих" not in b"".join(export.streaming_content).decode("utf-8-sig")


def test_a_client_message_after_a_note_is_stored_as_ever(client, anna, post_webhook) -> None:
    client.force_login(staff("note writer"))
    client.post(note_url(anna), {"text": "Ждём ответа"})
    body = payload("incomingMessageReceived.textMessage.json")
    body["senderData"]["chatId"] = body["senderData"]["sender"] = "79991234567@c.us"
    assert post_webhook(body).status_code == 200
    assert Message.objects.filter(client=anna).count() == 3
    assert Note.objects.filter(client=anna).count() == 1


@pytest.mark.parametrize(
    ("role", "added", "sees_notes", "sees_form"),
    [
        ("note writer", True, True, True),
        ("reader", False, True, False),
        ("reader without notes", False, False, False),
        ("nobody", False, False, False),
    ],
)
def test_who_may_add_and_read_notes(client, anna, role: str, added: bool, sees_notes: bool, sees_form: bool) -> None:
    Note.objects.create(client=anna, author_name="Ольга", text="заметка коллеги")
    client.force_login(staff(role))
    answer = client.post(note_url(anna), {"text": "новая заметка"})
    assert answer.status_code == (302 if added else 403)
    assert Note.objects.filter(text="новая заметка").exists() == added
    if role == "nobody":
        assert client.get(reverse("admin:clients_client_change", args=[anna.pk])).status_code == 403
        return
    html = page_of(client, anna)
    assert ("заметка коллеги" in html) == sees_notes
    assert ('id="note-text"' in html) == sees_form


def test_an_empty_note_is_refused_with_the_reason(client, anna) -> None:
    client.force_login(staff("note writer"))
    answer = client.post(note_url(anna), {"text": "   "}, follow=True)
    assert "Note not kept: A note must have 1 to 5000 characters." in answer.content.decode()
    assert not Note.objects.exists()
