"""The one trigger on messages' INSERT (inbox/migrations/0005): a statement of one row and a
statement of many take different ways through it, and must leave the same clients and conversations."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from clients.models import Client, ClientActivity
from conftest import needs_postgres, payload, postgres_only
from inbox.models import Conversation, ConversationEvent
from whatsapp.models import Message

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)

# Each client's messages, round by round: (direction, seconds after T0, instance); between the rounds
# staff set the status given. One message per client per round, so the rounds' one statement of
# many rows means what its rows one by one mean.
STORIES = [
    [("inbound", 10, 1), ("inbound", 20, 1), ("outbound", 30, 1)],  # waits, waits on, answered
    [("outbound", 10, 1), ("outbound", 20, 1), ("inbound", 30, 1)],  # we start: pending, then reopened
    [("inbound", 10, 1), ("outbound", 5, 1), ("inbound", 30, 2)],  # our late answer ends nothing; a new instance
    [("inbound", 30, 1), ("inbound", 10, 0), ("outbound", 40, 0)],  # an old message arriving late; instance 0
    [("outbound", 30, 1), ("inbound", 10, 1), ("inbound", 50, 1)],  # the client's older message makes nobody wait
]
BETWEEN = [{1: "resolved", 4: "snoozed"}, {0: "resolved", 2: "pending", 3: "resolved"}]


def message(client: Client, story: int, step: int) -> Message:
    direction, seconds, instance = STORIES[story][step]
    at = T0 + timedelta(seconds=seconds)
    return Message(
        client=client,
        direction=direction,
        content=f"{client.whatsapp_id} {step}",
        sent_at=at,
        created_at=at + timedelta(seconds=1),
        instance_id=instance,
        external_id=f"{client.whatsapp_id}-{step}",
    )


def what_is_kept(clients: list[Client]) -> list[tuple]:
    """Each client's stored activity and conversation, with its history, in the stories' order."""
    kept = []
    for client in clients:
        client.refresh_from_db()
        conversation = Conversation.objects.get(client=client)
        history = ConversationEvent.objects.filter(conversation=conversation).order_by("id")
        kept.append(
            (
                (
                    client.activity.message_count,
                    client.activity.inbound_count,
                    client.activity.unread_count,
                    client.activity.last_message_at,
                ),
                (client.activity.last_direction, client.activity.last_preview.split()[-1]),
                (conversation.status, conversation.waiting_since, conversation.instance_id),
                list(history.values_list("field", "old", "new", "note")),
            )
        )
    return kept


@needs_postgres("SQLite's triggers are row triggers: one way only")
@pytest.mark.django_db
def test_a_statement_of_many_messages_leaves_what_one_message_at_a_time_leaves() -> None:
    one_by_one = [Client.objects.create(whatsapp_id=f"7900100000{n}") for n in range(len(STORIES))]
    together = [Client.objects.create(whatsapp_id=f"7900200000{n}") for n in range(len(STORIES))]
    ClientActivity.objects.filter(pk__in=[one_by_one[0].pk, together[0].pk]).update(
        read_until=T0 + timedelta(seconds=15)
    )
    for step in range(3):
        for story, client in enumerate(one_by_one):
            Message.objects.bulk_create([message(client, story, step)])
        Message.objects.bulk_create([message(client, story, step) for story, client in enumerate(together)])
        for story, status in (BETWEEN[step] if step < len(BETWEEN) else {}).items():
            Conversation.objects.filter(client__in=[one_by_one[story], together[story]]).update(
                status=status, snoozed_until=timezone.now() + timedelta(days=1) if status == "snoozed" else None
            )
    kept = what_is_kept(one_by_one)
    assert kept == what_is_kept(together)
    # What the stories say, so that two wrong ways cannot agree.
    at = [T0 + timedelta(seconds=s) for s in (10, 20, 30, 40, 50)]
    assert [k[2] for k in kept] == [
        ("resolved", None, 1),
        ("open", at[2], 1),
        ("open", at[0], 2),
        ("resolved", None, 1),
        ("open", at[4], 1),
    ]
    assert kept[0][0] == (3, 2, 1, at[2]), "read up to 15 s: only the second message is unread"
    assert [k[1] for k in kept] == [
        ("outbound", "2"),
        ("inbound", "2"),
        ("inbound", "2"),
        ("outbound", "2"),
        ("inbound", "2"),
    ]
    assert kept[1][3] == [
        ("status", "", "pending", "the first message"),
        ("status", "resolved", "open", "the client wrote"),
    ]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_to_a_resolved_conversation_reopen_it_once_and_wait_from_the_first(live_server) -> None:
    """Each delivery reads the conversation after the client's row is locked: the first reopens it
    and starts the wait, the others find it open and waiting (a stale read would reopen it again)."""
    client = Client.objects.create(name="Горячий", whatsapp_id="79031234567")
    Message.objects.create(client=client, direction="outbound", content="Здравствуйте", sent_at=T0)
    Conversation.objects.filter(client=client).update(status="resolved")
    bodies = []
    for i in range(24):
        body = payload("incomingMessageReceived.textMessage.json")
        body["idMessage"] = f"REOPEN{i:026d}"
        body["timestamp"] = int(T0.timestamp()) + 60 + i
        body["senderData"]["chatId"] = body["senderData"]["sender"] = "79031234567@c.us"
        bodies.append(json.dumps(body, ensure_ascii=False).encode())

    def post(data: bytes) -> int:
        return requests.post(f"{live_server.url}/whatsapp/webhook", data=data, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert list(pool.map(post, bodies)) == [200] * len(bodies)
    conversation = Conversation.objects.get(client=client)
    reopened = ConversationEvent.objects.filter(conversation=conversation, note="the client wrote")
    assert list(reopened.values_list("old", "new")) == [("resolved", "open")]
    assert conversation.status == "open"
    # Whichever delivery took the client's lock first: one of them, never reset by those after it.
    assert conversation.waiting_since in set(
        Message.objects.filter(direction="inbound").values_list("sent_at", flat=True)
    )
    client.refresh_from_db()
    assert (client.activity.message_count, client.activity.unread_count, client.activity.last_direction) == (
        25,
        24,
        "inbound",
    )
