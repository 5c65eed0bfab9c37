"""The roles on the JSON API's WhatsApp endpoints: the statistics, sending by number and the files
name and count only the clients the user's role shows; a number that is another manager's client
is refused as one that does not exist, nothing sent or stored; a new number is the writer's."""

import pytest
from django.test import Client as HttpClient

from accounts.models import User
from clients.models import Client
from conftest import grant, run_jobs
from crm.testing.greenapi_fake import png
from inbox.models import Conversation, ConversationEvent
from inbox.services import conversation_change
from inbox.tests.people import conversation_of, staff, token_for
from whatsapp.models import MediaFile, Message

pytestmark = pytest.mark.django_db

ANNA, BORIS, NOBODY = "79000000001", "79000000002", "79000000003"


def api_of(user: User) -> HttpClient:
    return token_for(HttpClient(), user.email)


def program(*permissions: str) -> User:
    """An API-only user, as the README advises a program to have: no admin, only what it needs."""
    user = User.objects.create_user(email="script@example.com", password="a-long-staff-password")
    return grant(user, *permissions)


def shown(answer) -> tuple[set[str], int, int]:
    body = answer.json()
    assert answer.status_code == 200, body
    return {m["clientWhatsappId"] for m in body["recentMessages"]}, body["totalMessages"], body["clientsWithWhatsApp"]


def test_the_stats_name_and_count_only_the_clients_each_role_shows(two_managers) -> None:
    anna, _ = two_managers
    everyone = {ANNA, BORIS, NOBODY}
    superuser = User.objects.create_superuser(email="root@example.com", password="a-long-staff-password")
    assert shown(api_of(superuser).get("/whatsapp/stats")) == (everyone, 3, 3)
    assert shown(api_of(staff("boss@example.com", "Supervisors")).get("/whatsapp/stats")) == (everyone, 3, 3)
    answer = api_of(anna).get("/whatsapp/stats")
    assert shown(answer) == ({ANNA}, 1, 1)
    assert answer.json()["messagesByDirection"] == {"inbound": 1, "outbound": 0}
    assert answer.json()["messagesByStatus"] == {"received": 1}
    assert answer.json()["lastNotificationType"] == "incomingMessageReceived"  # the system's, about no client
    script = program("whatsapp.view_message")
    assert shown(api_of(script).get("/whatsapp/stats")) == (set(), 0, 0)
    script = grant(script, "inbox.view_all_conversations")
    assert shown(api_of(script).get("/whatsapp/stats")) == (everyone, 3, 3)


def test_a_manager_sees_the_unassigned_clients_in_the_stats_while_the_setting_allows(two_managers, settings) -> None:
    anna, _ = two_managers
    settings.INBOX_MANAGERS_SEE_UNASSIGNED = True
    assert shown(api_of(anna).get("/whatsapp/stats")) == ({ANNA, NOBODY}, 2, 2)


def test_sending_by_number_to_another_managers_client_is_refused_as_an_unknown_client(
    two_managers, fake_greenapi
) -> None:
    anna, _ = two_managers
    api = api_of(anna)
    boris_client = conversation_of(BORIS).client
    unseen = api.post(
        "/whatsapp/messages", {"clientId": str(boris_client.pk), "text": "x"}, content_type="application/json"
    )
    for phone in (BORIS, "+7 900 000-00-02", "8 (900) 000-00-02"):
        refused = api.post("/whatsapp/messages", {"phone": phone, "text": "чужое"}, content_type="application/json")
        assert (refused.status_code, refused.json()) == (404, unseen.json())
    assert fake_greenapi.sent == []
    assert Message.objects.filter(client=boris_client).count() == 1
    assert Client.objects.count() == 3
    assert conversation_of(BORIS).assignee.email == "boris@example.com"


def test_sending_by_number_to_an_own_client_goes(two_managers, fake_greenapi) -> None:
    anna, _ = two_managers
    sent = api_of(anna).post("/whatsapp/messages", {"phone": ANNA, "text": "своё"}, content_type="application/json")
    assert sent.status_code == 201
    assert [m["message"] for m in fake_greenapi.sent] == ["своё"]
    assert sent.json()["clientId"] == str(conversation_of(ANNA).pk)


def test_a_manager_writing_to_a_new_number_gets_its_conversation(two_managers, fake_greenapi) -> None:
    anna, _ = two_managers
    api = api_of(anna)
    sent = api.post(
        "/whatsapp/messages", {"phone": "79005550000", "text": "Здравствуйте!"}, content_type="application/json"
    )
    assert sent.status_code == 201
    assert [m["chatId"] for m in fake_greenapi.sent] == ["79005550000@c.us"]
    conversation = conversation_of("79005550000")
    assert (conversation.status, conversation.assignee) == (Conversation.Status.PENDING, anna)
    event = ConversationEvent.objects.get(conversation=conversation, field="assignee")
    assert (event.actor, event.new, event.note) == (anna, "anna@example.com", "started the conversation")
    listed = api.get("/inbox/conversations").json()["results"]
    assert "79005550000" in {c["clientWhatsappId"] for c in listed}
    assert "79005550000" in {m["clientWhatsappId"] for m in api.get("/whatsapp/stats").json()["recentMessages"]}


def test_a_new_number_refused_by_green_api_is_still_the_writers(two_managers, fake_greenapi) -> None:
    anna, _ = two_managers
    fake_greenapi.fail_with = 500
    sent = api_of(anna).post(
        "/whatsapp/messages", {"phone": "79005550001", "text": "?"}, content_type="application/json"
    )
    assert sent.status_code == 502
    assert conversation_of("79005550001").assignee == anna  # the failed message is there for her to retry


def test_a_program_writing_to_a_new_number_leaves_it_unassigned(db, fake_greenapi) -> None:
    script = program("whatsapp.send_message")
    sent = api_of(script).post(
        "/whatsapp/messages", {"phone": "79005550002", "text": "?"}, content_type="application/json"
    )
    assert sent.status_code == 201
    assert conversation_of("79005550002").assignee is None


def test_a_file_of_another_managers_client_is_not_found(post_webhook, media_fake, settings) -> None:
    settings.INBOX_MANAGERS_SEE_UNASSIGNED = False
    anna, boris = staff("anna@example.com", "Managers"), staff("boris@example.com", "Managers")
    url = media_fake.add_file(png(), "file.bin")
    assert post_webhook(media_fake.media_notification(url, fileName="a.png")).status_code == 200
    run_jobs()
    media = MediaFile.objects.get(state=MediaFile.State.STORED)
    conversation_change(conversation=Conversation.objects.get(), actor=boris, assignee=boris)
    assert api_of(anna).get(f"/whatsapp/media/{media.pk}").status_code == 404
    assert api_of(boris).get(f"/whatsapp/media/{media.pk}").status_code == 200
    browser = HttpClient()
    browser.force_login(anna)
    assert browser.get(f"/whatsapp/media/{media.pk}").status_code == 404
