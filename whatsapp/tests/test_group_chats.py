"""A WhatsApp group chat is one conversation: a client of its own whose messages each keep the
participant who wrote them as their author (issue 18). Through the real webhook, the fake Green API
server for replies, the admin's pages as each role, and the migration that moves what was stored
before."""

import copy
import csv
import io
import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from clients.models import Client, ClientActivity, ClientNumber
from conftest import payload, run_jobs
from inbox.models import Conversation
from inbox.roles import roles_ensure
from inbox.services import conversation_change
from whatsapp.models import Message

pytestmark = pytest.mark.django_db

GROUP = "120363043968066561"
AIGERIM = "77079876543"
BORIS = "77010000002"
_ids = itertools.count(1)
_clock = itertools.count(int(timezone.now().timestamp()) - 3600, 5)


def in_group(sender: str = AIGERIM, text: str = "Сәлеметсіз бе!", name: str = "Айгерим", **sender_data: str) -> dict:
    """A participant's message in the group, each later than the one before."""
    body = copy.deepcopy(payload("incomingMessageReceived.textMessage.group.json"))
    body["idMessage"] = f"GROUP{next(_ids):011d}"
    body["timestamp"] = next(_clock)
    body["senderData"].update(sender=f"{sender}@c.us", senderName=name, **sender_data)
    body["messageData"]["textMessageData"]["textMessage"] = text
    return body


def alone(sender: str = AIGERIM, text: str = "Это лично вам") -> dict:
    """The same person writing to us in their own chat."""
    body = copy.deepcopy(payload("incomingMessageReceived.textMessage.json"))
    body["idMessage"] = f"ALONE{next(_ids):011d}"
    body["timestamp"] = next(_clock)
    body["senderData"]["chatId"] = body["senderData"]["sender"] = f"{sender}@c.us"
    body["messageData"]["textMessageData"]["textMessage"] = text
    return body


def group_client() -> Client:
    return Client.objects.get(whatsapp_group=GROUP)


@pytest.fixture(params=["fast path", "general way"])
def write_path(request, settings) -> str:
    # The fast path leaves group messages to the general way: both settings must give the same.
    settings.WEBHOOK_FAST_PATH = request.param == "fast path"
    return request.param


def test_a_group_message_through_the_webhook_makes_one_group_conversation_with_its_author(
    post_webhook, write_path
) -> None:
    assert post_webhook(in_group()).status_code == 200
    group = group_client()
    message = Message.objects.get()
    assert (message.client, message.author.whatsapp_id) == (group, AIGERIM)
    assert (group.name, group.whatsapp_id, group.whatsapp_lid, group.phone) == ("Отдел продаж 🇰🇿", None, None, "")
    assert ClientNumber.objects.get(client=group).kind == "group"
    assert (group.activity.message_count, group.activity.unread_count, group.activity.last_direction) == (
        1,
        1,
        "inbound",
    )
    conversation = Conversation.objects.get(pk=group.pk)
    assert (conversation.status, conversation.waiting_since) == ("open", message.sent_at)


def test_two_participants_messages_land_in_the_same_conversation(post_webhook, write_path) -> None:
    post_webhook(in_group(AIGERIM, "Тапсырыс дайын ба?"))
    post_webhook(in_group(BORIS, "Да, готов", name="Борис"))
    group = group_client()
    assert Client.objects.filter(whatsapp_group__isnull=False).count() == 1
    assert Conversation.objects.filter(pk=group.pk).count() == 1
    authors = dict(group.messages.values_list("content", "author__whatsapp_id"))
    assert authors == {"Тапсырыс дайын ба?": AIGERIM, "Да, готов": BORIS}
    assert (group.activity.message_count, group.activity.unread_count, group.activity.last_preview) == (
        2,
        2,
        "Да, готов",
    )


def test_the_participant_is_still_a_client_and_their_own_conversation_is_untouched(post_webhook, write_path) -> None:
    post_webhook(alone(text="Добрый день"))
    aigerim = Client.objects.get(whatsapp_id=AIGERIM)
    before = Conversation.objects.get(pk=aigerim.pk)
    post_webhook(in_group(text="В группе"))
    aigerim.refresh_from_db()
    assert (aigerim.activity.message_count, aigerim.activity.last_preview, aigerim.activity.unread_count) == (
        1,
        "Добрый день",
        1,
    )
    assert list(aigerim.messages.values_list("content", flat=True)) == ["Добрый день"]
    assert Conversation.objects.get(pk=aigerim.pk).waiting_since == before.waiting_since
    assert list(aigerim.authored.values_list("content", flat=True)) == ["В группе"]


def test_a_participant_known_only_by_lid_is_found_by_it(post_webhook) -> None:
    body = in_group(text="с lid")
    body["senderData"]["sender"] = "120650379300963@lid"
    post_webhook(body)
    message = Message.objects.get(content="с lid")
    assert message.author.whatsapp_lid == "120650379300963"
    assert message.client == group_client()


def test_our_own_message_in_the_group_from_the_phone_is_the_groups_without_an_author(post_webhook) -> None:
    body = copy.deepcopy(payload("outgoingMessageReceived.textMessage.json"))
    body["senderData"].update(chatId=f"{GROUP}@g.us", chatName="Отдел продаж 🇰🇿", sender="77017654321@c.us")
    assert post_webhook(body).status_code == 200
    message = Message.objects.get()
    assert (message.client, message.author, message.direction) == (group_client(), None, "outbound")
    assert not Client.objects.filter(whatsapp_id="77017654321").exists(), "our own number is no client"


def test_a_reply_from_the_group_conversation_goes_to_the_groups_chat_id(
    client, post_webhook, fake_greenapi, admin_user
) -> None:
    post_webhook(in_group())
    group = group_client()
    client.force_login(admin_user)
    here = reverse("admin:inbox_conversation_change", args=[group.pk])
    answer = client.post(reverse("admin:clients_client_send", args=[group.pk]), {"text": "Готово!", "next": here})
    assert answer.status_code == 302
    assert [(s["chatId"], s["message"]) for s in fake_greenapi.sent] == [(f"{GROUP}@g.us", "Готово!")]
    reply = Message.objects.get(direction="outbound")
    assert (reply.client, reply.author, reply.chat_id, reply.status) == (group, None, f"{GROUP}@g.us", "sent")
    assert Conversation.objects.get(pk=group.pk).waiting_since is None


def test_the_webhook_of_our_reply_to_the_group_is_the_same_message(post_webhook, fake_greenapi) -> None:
    from whatsapp.outbound import message_send

    post_webhook(in_group())
    sent = message_send(client=group_client(), text="Готово!")
    echo = copy.deepcopy(payload("outgoingAPIMessageReceived.textMessage.json"))
    echo["idMessage"] = sent.external_id
    echo["senderData"].update(chatId=f"{GROUP}@g.us", chatName="Отдел продаж 🇰🇿", sender="77017654321@c.us")
    assert post_webhook(echo).status_code == 200
    assert Message.objects.filter(direction="outbound").get().pk == sent.pk


# -------------------------------------------------------------------------------------------------
# The admin, as each role.


def staff(email: str, role: str | None = None) -> User:
    if role is None:
        return User.objects.create_superuser(email=email, password="a-long-staff-password")
    user = User.objects.create_user(email=email, password="a-long-staff-password", is_staff=True)
    roles_ensure()
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize("role", ["superuser", "Supervisors", "Managers"])
def test_the_group_and_its_participant_pages_render_for_each_role(client, post_webhook, settings, role) -> None:
    settings.INBOX_MANAGERS_SEE_UNASSIGNED = False
    post_webhook(in_group(AIGERIM, "Тапсырыс дайын ба?"))
    post_webhook(in_group(BORIS, "Да, готов", name="Борис"))
    user = staff(f"{role.lower()}@example.com", None if role == "superuser" else role)
    group, aigerim = group_client(), Client.objects.get(whatsapp_id=AIGERIM)
    # A manager sees what is assigned to them: the group, and the participant's own chat.
    for who in (group, aigerim):
        Conversation.objects.get_or_create(client=who)
        conversation_change(conversation=Conversation.objects.get(pk=who.pk), actor=user, assignee=user)
    client.force_login(user)

    page = client.get(reverse("admin:clients_client_change", args=[group.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "WhatsApp group" in text
    assert f"{GROUP}" in text
    participant_link = reverse("admin:clients_client_change", args=[aigerim.pk])
    assert f'href="{participant_link}">Айгерим</a> · +7 707 987 6543' in text
    assert "Тапсырыс дайын ба?" in text
    assert "Да, готов" in text

    inbox = client.get(reverse("admin:inbox_conversation_change", args=[group.pk]))
    assert inbox.status_code == 200
    assert f'href="{participant_link}">Айгерим</a>' in inbox.content.decode()

    own = client.get(participant_link).content.decode()
    group_link = reverse("admin:clients_client_change", args=[group.pk])
    assert f'Writes in the WhatsApp groups: <a href="{group_link}#thread">Отдел продаж 🇰🇿</a>' in own
    assert "Тапсырыс дайын ба?" not in own, "the group's messages are the group's conversation"

    listed = client.get(reverse("admin:clients_client_changelist"), {"kind": "group"}).content.decode()
    assert "Отдел продаж 🇰🇿" in listed
    assert 'class="badge-group"' in listed
    assert "Айгерим" not in listed
    people = client.get(reverse("admin:clients_client_changelist"), {"kind": "person"}).content.decode()
    assert "Айгерим" in people
    assert "Отдел продаж" not in people


def test_another_managers_group_conversation_does_not_exist_for_a_manager(client, post_webhook, settings) -> None:
    settings.INBOX_MANAGERS_SEE_UNASSIGNED = False
    post_webhook(in_group())
    group = group_client()
    owner, other = staff("owner@example.com", "Managers"), staff("other@example.com", "Managers")
    conversation_change(conversation=Conversation.objects.get(pk=group.pk), actor=owner, assignee=owner)
    client.force_login(other)
    page = client.get(reverse("admin:clients_client_change", args=[group.pk]))
    assert page.status_code == 302  # the admin's "doesn't exist"
    assert client.get(reverse("admin:inbox_conversation_change", args=[group.pk])).status_code == 302
    aigerim = Client.objects.get(whatsapp_id=AIGERIM)
    Conversation.objects.filter(pk=aigerim.pk).delete()
    assert (
        "Writes in the WhatsApp groups"
        not in client.get(reverse("admin:clients_client_change", args=[aigerim.pk])).content.decode()
    )


# -------------------------------------------------------------------------------------------------
# The migration.

BEFORE = [("whatsapp", "0016_message_author"), ("inbox", "0002_triggers_and_roles")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_old_group_messages_to_their_group_and_recounts() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    clients, messages = old.get_model("clients", "Client").objects, old.get_model("whatsapp", "Message").objects
    conversations = old.get_model("inbox", "Conversation").objects
    at = timezone.now() - timedelta(hours=1)
    # As stored before: a group's messages with their writers as the client, beside their own chats.
    aigerim = clients.create(name="Айгерим", whatsapp_id=AIGERIM)
    boris = clients.create(name="Борис", whatsapp_id=BORIS)
    us = clients.create(whatsapp_id="77017654321")  # what we wrote in the group from the phone

    def stored(who, text: str, minutes: int, chat: str = f"{GROUP}@g.us", direction: str = "inbound") -> None:
        name = "Отдел продаж" if chat.endswith("@g.us") else ""
        messages.create(
            client=who,
            direction=direction,
            content=text,
            chat_id=chat,
            chat_name=name,
            external_id=text,
            sent_at=at + timedelta(minutes=minutes),
        )

    stored(aigerim, "лично", 0, chat=f"{AIGERIM}@c.us")
    stored(aigerim, "в группе 1", 1)
    stored(boris, "в группе 2", 2)
    stored(us, "наш ответ", 3, direction="outbound")
    stored(boris, "старая группа", 4, chat="79001234567-1581234048@g.us")
    assert conversations.filter(pk=boris.pk).exists()
    assert conversations.filter(pk=aigerim.pk).exists()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    group, legacy = (
        Client.objects.get(whatsapp_group=GROUP),
        Client.objects.get(whatsapp_group="79001234567-1581234048"),
    )
    assert group.name == "Отдел продаж"
    assert ClientNumber.objects.filter(client=legacy, kind="group").exists()
    moved = {m.content: (m.client_id, m.author_id) for m in Message.objects.all()}
    assert moved == {
        "лично": (aigerim.pk, None),
        "в группе 1": (group.pk, aigerim.pk),
        "в группе 2": (group.pk, boris.pk),
        "наш ответ": (group.pk, None),
        "старая группа": (legacy.pk, boris.pk),
    }
    group.refresh_from_db()
    assert (
        group.activity.message_count,
        group.activity.inbound_count,
        group.activity.last_preview,
        group.activity.last_direction,
    ) == (
        3,
        2,
        "наш ответ",
        "outbound",
    )
    aigerim = Client.objects.get(pk=aigerim.pk)
    assert (aigerim.activity.message_count, aigerim.activity.last_preview) == (1, "лично")
    assert Conversation.objects.get(pk=aigerim.pk).waiting_since == Message.objects.get(content="лично").sent_at
    # Each group is a conversation; Борис wrote only in groups: his own chat had nothing of his.
    assert Conversation.objects.get(pk=group.pk).status == "pending"
    assert Conversation.objects.get(pk=legacy.pk).status == "open"
    assert ClientActivity.objects.get(pk=boris.pk).message_count == 0
    assert not Conversation.objects.filter(pk__in=[boris.pk, us.pk]).exists()


def test_a_group_is_never_merged_with_a_person(client, post_webhook, admin_user) -> None:
    post_webhook(in_group())
    group, aigerim = group_client(), Client.objects.get(whatsapp_id=AIGERIM)
    client.force_login(admin_user)
    merge = {"action": "merge", "_selected_action": [group.pk, aigerim.pk], "keep": str(aigerim.pk)}
    answer = client.post(reverse("admin:clients_client_changelist"), merge, follow=True)
    assert "A WhatsApp group cannot be merged" in answer.content.decode()
    assert Client.objects.filter(pk__in=[group.pk, aigerim.pk]).count() == 2
    assert Message.objects.get().client == group


def test_a_group_number_cannot_be_typed_onto_a_person(client, admin_user) -> None:
    from clients.tests.forms import client_form

    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    client.force_login(admin_user)
    url = reverse("admin:clients_client_change", args=[anna.pk])
    data = client_form(name="Анна", whatsapp_id="79991234567", numbers=[("group", GROUP)])
    answer = client.post(url, data)
    assert answer.status_code == 200  # the form again, with the error
    assert not ClientNumber.objects.filter(kind="group").exists()


def test_reading_the_group_conversation_marks_the_group_chat_read_on_green_api(
    client, post_webhook, fake_greenapi, settings, admin_user
) -> None:
    settings.GREEN_API_MARK_READ = True
    post_webhook(in_group())
    client.force_login(admin_user)
    client.get(reverse("admin:inbox_conversation_change", args=[group_client().pk]))
    run_jobs()
    assert fake_greenapi.read_chats == [f"{GROUP}@g.us"]


def test_a_group_messages_page_shows_its_author_as_a_link_not_a_list_of_clients(
    client, post_webhook, admin_user
) -> None:
    post_webhook(in_group())
    message, aigerim = Message.objects.get(), Client.objects.get(whatsapp_id=AIGERIM)
    client.force_login(admin_user)
    page = client.get(reverse("admin:whatsapp_message_change", args=[message.pk])).content.decode()
    assert 'name="author"' not in page
    assert f'href="{reverse("admin:clients_client_change", args=[aigerim.pk])}">Айгерим</a>' in page


def test_the_api_sends_to_a_group_by_its_client_id(api, post_webhook, fake_greenapi) -> None:
    post_webhook(in_group())
    group = group_client()
    answer = api.post(
        "/whatsapp/messages", {"clientId": str(group.pk), "text": "Всем привет"}, content_type="application/json"
    )
    assert answer.status_code == 201
    assert fake_greenapi.sent[-1]["chatId"] == f"{GROUP}@g.us"


def test_the_groups_csv_says_who_wrote_each_message(client, post_webhook, admin_user) -> None:
    post_webhook(in_group(AIGERIM, "Тапсырыс дайын ба?"))
    post_webhook(in_group(BORIS, "Да, готов", name="Борис"))
    client.force_login(admin_user)
    answer = client.get(reverse("admin:clients_client_export", args=[group_client().pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode("utf-8-sig"))))
    assert {(r["content"], r["author"], r["author_whatsapp_id"]) for r in rows} == {
        ("Тапсырыс дайын ба?", "Айгерим", AIGERIM),
        ("Да, готов", "Борис", BORIS),
    }
