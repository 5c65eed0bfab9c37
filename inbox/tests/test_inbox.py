"""Conversations made and reopened by the client's messages on both write paths, waiting for our
answer, status and assignment with their history, and the round-robin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import Client
from conftest import needs_postgres
from inbox.models import Agent, Conversation, ConversationEvent
from inbox.services import conversation_change
from inbox.tests.people import NUMBER, conversation_of, incoming, staff
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


@needs_postgres("the fast path is PostgreSQL's")
def test_a_clients_first_message_opens_a_conversation_waiting_for_our_answer(post_webhook, write_path) -> None:
    assert post_webhook(incoming("INBOX-1")).status_code == 200
    conversation = conversation_of()
    message = Message.objects.get(external_id="INBOX-1")
    assert conversation.status == "open"
    assert conversation.assignee is None
    assert conversation.waiting_since == message.sent_at
    assert conversation.instance_id == message.instance_id
    assert conversation.client.activity.unread_count == 1


@needs_postgres("the fast path is PostgreSQL's")
def test_a_new_message_reopens_a_resolved_or_snoozed_conversation_on_both_paths(post_webhook, write_path) -> None:
    supervisor = staff("boss@example.com", "Supervisors")
    post_webhook(incoming("INBOX-1"))
    conversation = conversation_of()
    conversation_change(conversation=conversation, actor=supervisor, status="resolved")
    post_webhook(incoming("INBOX-2", "Ещё вопрос"))
    assert conversation_of().status == "open"
    conversation_change(
        conversation=conversation, actor=supervisor, status="snoozed", snoozed_until=timezone.now() + timedelta(days=1)
    )
    post_webhook(incoming("INBOX-3", "Алло?"))
    reopened = conversation_of()
    assert (reopened.status, reopened.snoozed_until) == ("open", None)
    history = list(
        ConversationEvent.objects.filter(conversation=reopened).order_by("id").values_list("actor", "old", "new")
    )
    assert history == [
        (None, "", "open"),
        (supervisor.pk, "open", "resolved"),
        (None, "resolved", "open"),
        (supervisor.pk, "open", history[3][2]),
        (None, "snoozed", "open"),
    ]
    assert history[3][2].startswith("snoozed until ")


def test_our_answer_ends_the_wait_and_the_clients_next_message_starts_it_again(post_webhook) -> None:
    post_webhook(incoming("INBOX-1"))
    client = Client.objects.get(whatsapp_id=NUMBER)
    first = Message.objects.get(external_id="INBOX-1").sent_at
    answer = Message.objects.create(
        client=client, direction="outbound", status="sent", content="Добрый день", external_id="OUT-1", sent_at=first
    )
    assert conversation_of().waiting_since is None
    post_webhook(incoming("INBOX-2", "Спасибо"))
    assert conversation_of().waiting_since == Message.objects.get(external_id="INBOX-2").sent_at
    assert answer.sent_at <= conversation_of().waiting_since


def test_a_conversations_first_message_is_in_its_history_on_every_database(post_webhook) -> None:
    post_webhook(incoming("INBOX-1"))
    post_webhook(incoming("INBOX-2"))
    started = Client.objects.create(name="Новый", whatsapp_id="79001234599")
    Message.objects.create(client=started, direction="outbound", status="sent", content="Добрый день", external_id="O")
    events = ConversationEvent.objects.order_by("id")
    assert [(e.conversation.client.whatsapp_id, e.actor, e.field, e.old, e.new, e.note) for e in events] == [
        (NUMBER, None, "status", "", "open", "the first message"),
        ("79001234599", None, "status", "", "pending", "the first message"),
    ]


def test_the_round_robin_stamps_a_turn_each_in_one_statement_of_many_new_clients(db) -> None:
    anna, boris = staff("anna@example.com", "Managers"), staff("boris@example.com", "Managers")
    Agent.objects.bulk_create([Agent(user=anna, available=True), Agent(user=boris, available=True)])
    clients = Client.objects.bulk_create([Client(whatsapp_id=f"7900765432{i}") for i in range(4)])
    Message.objects.bulk_create(
        [Message(client=c, direction="inbound", content="?", external_id=f"RR-{i}") for i, c in enumerate(clients)]
    )
    assignees = [Conversation.objects.get(pk=c.pk).assignee.email for c in clients]
    assert sorted(assignees) == ["anna@example.com"] * 2 + ["boris@example.com"] * 2
    assert ConversationEvent.objects.filter(field="assignee", note="round-robin").count() == 4


def test_a_conversation_we_start_waits_for_the_client(db) -> None:
    client = Client.objects.create(name="Новый", whatsapp_id=NUMBER)
    Message.objects.create(
        client=client, direction="outbound", status="sent", content="Здравствуйте!", external_id="OUT-1"
    )
    assert (conversation_of().status, conversation_of().waiting_since) == ("pending", None)


def test_a_transfer_keeps_who_when_and_its_note(post_webhook) -> None:
    anna, boris = staff("anna@example.com", "Managers"), staff("boris@example.com", "Managers")
    post_webhook(incoming("INBOX-1"))
    conversation = conversation_of()
    conversation_change(conversation=conversation, actor=anna, assignee=anna)
    conversation_change(conversation=conversation, actor=anna, assignee=boris, note="Boris knows this order")
    event = ConversationEvent.objects.filter(field="assignee").first()
    assert (event.actor, event.old, event.new, event.note) == (anna, str(anna), str(boris), "Boris knows this order")
    assert conversation_of().assignee == boris


def test_a_snooze_without_a_future_time_is_refused(post_webhook) -> None:
    post_webhook(incoming("INBOX-1"))
    with pytest.raises(ValueError, match="future"):
        conversation_change(conversation=conversation_of(), actor=staff("a@example.com", "Managers"), status="snoozed")
    assert conversation_of().status == "open"


def test_a_snooze_past_its_time_is_shown_open(post_webhook) -> None:
    post_webhook(incoming("INBOX-1"))
    Conversation.objects.update(status="snoozed", snoozed_until=timezone.now() - timedelta(minutes=1))
    assert conversation_of().shown_status == "open"


def test_new_conversations_go_round_robin_to_the_available_staff_only(post_webhook) -> None:
    anna, boris = staff("anna@example.com", "Managers"), staff("boris@example.com", "Managers")
    away = staff("away@example.com", "Managers")
    Agent.objects.create(user=anna, available=True)
    Agent.objects.create(user=boris, available=True)
    Agent.objects.create(user=away, available=False)
    for i in range(4):
        post_webhook(incoming(f"RR-{i}", number=f"7900123456{i}"))
    assignees = [conversation_of(f"7900123456{i}").assignee for i in range(4)]
    assert sorted(a.email for a in assignees) == ["anna@example.com"] * 2 + ["boris@example.com"] * 2
    assert assignees[0] != assignees[1]
    post_webhook(incoming("RR-again", number="79001234560"))  # not new: stays whose it is
    assert conversation_of("79001234560").assignee == assignees[0]


def test_without_available_staff_nobody_is_assigned(post_webhook) -> None:
    staff("anna@example.com", "Managers")
    post_webhook(incoming("INBOX-1"))
    assert conversation_of().assignee is None


# -------------------------------------------------------------------------------------------------
# The inbox in the admin.


def test_a_clients_old_message_arriving_late_does_not_make_us_wait(post_webhook) -> None:
    post_webhook(incoming("INBOX-1"))
    client = Client.objects.get(whatsapp_id=NUMBER)
    Message.objects.create(client=client, direction="outbound", status="sent", content="Ответ", external_id="OUT-1")
    late = incoming("INBOX-0", "Старое")
    late["timestamp"] -= 3600
    post_webhook(late)
    assert conversation_of().waiting_since is None


@needs_postgres("the database's own cascade")
def test_a_client_deleted_by_sql_takes_its_conversation_and_history_along(post_webhook) -> None:
    from django.db import connection

    post_webhook(incoming("INBOX-1"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM messages")
        cursor.execute("DELETE FROM clients")
    assert (Conversation.objects.count(), ConversationEvent.objects.count()) == (0, 0)
