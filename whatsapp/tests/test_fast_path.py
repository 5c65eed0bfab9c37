"""The one-statement fast path (PostgreSQL) stores exactly what the general path stores."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from conftest import PAYLOADS, needs_postgres, payload
from whatsapp.models import Message, Notification

# Only the reason is PostgreSQL's: on SQLite the webhook always goes the general way, so there is no
# fast path to compare with it.
pytestmark = [
    needs_postgres("the fast path is PostgreSQL's SQL (data-modifying CTEs); SQLite always goes the general way"),
    pytest.mark.django_db,
]

INCOMING = sorted(p.name for p in PAYLOADS.glob("incomingMessageReceived.*.json"))
OUTGOING = sorted(p.name for p in PAYLOADS.glob("outgoing*MessageReceived.*.json"))
COMPARED = [
    f.attname for f in Message._meta.concrete_fields if f.name not in ("id", "created_at", "updated_at", "notification")
]


def store(post_webhook, settings, name: str, fast: bool) -> tuple[dict, int]:
    settings.WEBHOOK_FAST_PATH = fast
    body = payload(name)
    # For outgoing messages the client is the chat; `sender` is our own number.
    person = body["senderData"]["chatId" if name.startswith("outgoing") else "sender"].split("@")[0]
    Client.objects.get_or_create(whatsapp_id=person, defaults={"name": "Known"})
    with CaptureQueriesContext(connection) as queries:
        answer = post_webhook(body)
    assert answer.status_code == 200
    message = Message.objects.filter(external_id=body["idMessage"]).values(*COMPARED).first()
    notification = Notification.objects.get(dedupe_key__contains=body["idMessage"])
    assert notification.outcome == "processed"
    Message.objects.all().delete()
    Notification.objects.all().delete()
    # Tests run inside a transaction, where the fast path adds a savepoint around its statement.
    statements = [q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    return message, len(statements)


@pytest.mark.parametrize("name", INCOMING + OUTGOING)
def test_fast_and_general_paths_store_the_same_message(post_webhook, settings, name: str) -> None:
    general, general_queries = store(post_webhook, settings, name, fast=False)
    fast, fast_queries = store(post_webhook, settings, name, fast=True)
    assert fast == general
    if "editedMessage" in name or "reactionMessage" in name or "deletedMessage" in name:
        return  # lifecycle notifications always go the general way
    if payload(name)["senderData"]["chatId"].endswith("@g.us"):
        assert fast_queries >= 3, "a group chat's message goes the general way"
        return
    # One statement; for a message we sent, one more to look for a status waiting for it; for a
    # file, its MediaFile and its download job, in the statement's transaction.
    expected = (2 if name.startswith("outgoing") else 1) + (
        2 if payload(name)["messageData"].get("fileMessageData") else 0
    )
    assert fast_queries == expected, "a known client's message is one statement"
    assert general_queries >= 3


@pytest.mark.parametrize(
    "name", ["incomingMessageReceived.textMessage.json", "incomingMessageReceived.imageMessage.json"]
)
def test_a_new_number_becomes_a_client_with_its_message_as_the_general_way_makes_it(
    post_webhook, settings, capsys, name: str
) -> None:
    results = []
    for fast in (False, True):
        settings.WEBHOOK_FAST_PATH = fast
        body = payload(name)
        with CaptureQueriesContext(connection) as queries:
            assert post_webhook(body).json()["outcome"] == "processed"
        assert "Created new client: " in capsys.readouterr().out
        client = Client.objects.values("name", "phone", "whatsapp_id", "whatsapp_lid").get()
        message = Message.objects.values(*(f for f in COMPARED if f != "client_id")).get()
        statements = [q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        results.append((client, message, len(statements)))
        Message.objects.all().delete()
        Notification.objects.all().delete()
        Client.objects.all().delete()
    (general_client, general_message, general_queries), (client, message, queries) = results
    assert (client, message) == (general_client, general_message)
    files = 2 if "image" in name else 0  # its MediaFile and its download job
    assert queries == 2 + files, "one statement finds no client, one creates it with the message"
    assert general_queries >= 4


def test_a_number_that_contains_a_clients_number_goes_the_general_way_to_that_client(post_webhook) -> None:
    stored_without_country_code = Client.objects.create(name="Анна", whatsapp_id="9031234567")
    assert post_webhook(payload("incomingMessageReceived.textMessage.json")).json()["outcome"] == "processed"
    assert Client.objects.count() == 1
    assert Message.objects.get().client == stored_without_country_code


def _redelivered(post_webhook, settings, fast: bool, body: dict) -> tuple[dict, int]:
    settings.WEBHOOK_FAST_PATH = True
    first = post_webhook(body).json()
    settings.WEBHOOK_FAST_PATH = fast
    with CaptureQueriesContext(connection) as queries:
        again = post_webhook(body).json()
    assert again.pop("notificationId") == first["notificationId"]
    statements = [q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    return again, len(statements)


@pytest.mark.parametrize("fast", [False, True])
def test_a_redelivered_message_is_counted_and_answered_as_done(post_webhook, settings, capsys, fast) -> None:
    Client.objects.create(name="Анна", whatsapp_id="79031234567")
    body = payload("incomingMessageReceived.textMessage.json")
    answer, statements = _redelivered(post_webhook, settings, fast, body)
    assert answer == {"status": "ok", "outcome": "processed", "detail": "", "duplicate": True}
    assert f"Duplicate notification incomingMessageReceived {body['idMessage']}: already processed" in (
        capsys.readouterr().out
    )
    assert Notification.objects.get().deliveries == 2
    assert Message.objects.count() == 1
    if fast:
        assert statements == 1


@pytest.mark.parametrize("fast", [False, True])
def test_a_redelivered_status_is_counted_and_changes_nothing(post_webhook, settings, fast) -> None:
    client = Client.objects.create(whatsapp_id="5511987654321")
    message = Message.objects.create(
        client=client, direction="outbound", status="sent", external_id="BAE5F4886A9C1E21", instance_id=1103123456
    )
    answer, statements = _redelivered(post_webhook, settings, fast, payload("outgoingMessageStatus.delivered.json"))
    assert answer == {"status": "ok", "outcome": "processed", "detail": "", "duplicate": True}
    message.refresh_from_db()
    assert message.status == "delivered"
    assert Notification.objects.get().deliveries == 2
    if fast:
        assert statements == 1


def test_a_redelivery_of_a_failed_notification_is_processed_again(post_webhook, reject_message_inserts) -> None:
    Client.objects.create(name="Анна", whatsapp_id="79031234567")
    body = payload("incomingMessageReceived.textMessage.json")
    assert post_webhook(body).json()["outcome"] == "failed"
    reject_message_inserts()  # repaired
    answer = post_webhook(body).json()
    # Not a duplicate: something was done with it now (a duplicate is answered as done already).
    assert (answer["outcome"], answer["duplicate"]) == ("processed", False)
    assert Notification.objects.get().deliveries == 2
    assert Message.objects.count() == 1


def test_fast_path_prints_the_guides_lines(post_webhook, capsys) -> None:
    Client.objects.create(name="Анна", whatsapp_id="79031234567")
    post_webhook(payload("incomingMessageReceived.textMessage.json"))
    out = capsys.readouterr().out
    for line in [
        "Extracted phone number from chatId 79031234567@c.us: 79031234567",
        "Finding or creating client for phone: 79031234567",
        "Found existing client: ",
        "Incoming message processed: A5F3B2C1D4E6F7081920AB3C4D5E6F70",
    ]:
        assert line in out


def test_a_failure_on_the_fast_path_is_kept_as_failed(post_webhook, reject_message_inserts) -> None:
    Client.objects.create(name="Анна", whatsapp_id="79031234567")
    assert post_webhook(payload("incomingMessageReceived.textMessage.json")).status_code == 200
    assert Notification.objects.get().outcome == "failed"
    assert not Message.objects.exists()


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "failed", "noAccount", "yellowCard"])
def test_a_status_is_one_statement_and_lands_as_the_general_path_lands_it(post_webhook, settings, status) -> None:
    results = []
    for fast in (False, True):
        settings.WEBHOOK_FAST_PATH = fast
        body = payload(f"outgoingMessageStatus.{status}.json")
        client, _ = Client.objects.get_or_create(whatsapp_id="5511987654321")
        Message.objects.create(
            client=client, direction="outbound", status="pending", external_id=body["idMessage"], instance_id=1103123456
        )
        with CaptureQueriesContext(connection) as queries:
            assert post_webhook(body).json()["outcome"] == "processed"
        statements = [q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        results.append((Message.objects.values("status", "status_description").get(), len(statements)))
        Message.objects.all().delete()
        Notification.objects.all().delete()
    (general, general_queries), (fast, fast_queries) = results
    assert fast == general
    assert fast_queries == 1
    assert general_queries >= 2  # the notification, then the status


@pytest.mark.parametrize("fast", [False, True])
def test_a_status_that_is_not_ahead_is_kept_and_changes_nothing(post_webhook, settings, fast) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    client = Client.objects.create(whatsapp_id="5511987654321")
    Message.objects.create(
        client=client, direction="outbound", status="read", external_id="BAE5F4886A9C1E21", instance_id=1103123456
    )
    with CaptureQueriesContext(connection) as queries:
        answer = post_webhook(payload("outgoingMessageStatus.delivered.json"))
    assert answer.json()["outcome"] == "processed"
    assert answer.json()["detail"] == "delivered: not ahead of the stored status, kept"
    assert Message.objects.get().status == "read"
    assert Notification.objects.get().detail == "delivered: not ahead of the stored status, kept"
    statements = [q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    if fast:
        assert len(statements) == 1


def test_our_own_send_goes_the_general_way_to_be_merged(post_webhook) -> None:
    client = Client.objects.create(whatsapp_id="5511987654321")
    body = payload("outgoingAPIMessageReceived.textMessage.json")
    Message.objects.create(
        client=client,
        direction="outbound",
        status="pending",
        content="Olá João!",
        external_id=body["idMessage"],
        instance_id=1103123456,
    )
    assert post_webhook(body).json()["outcome"] == "processed"
    message = Message.objects.get()
    assert message.status == "sent"
    assert Notification.objects.get().detail.startswith("already stored as message")


def test_a_status_kept_waiting_is_applied_when_the_fast_path_stores_its_message(post_webhook) -> None:
    Client.objects.create(whatsapp_id="5511987654321")
    body = payload("outgoingAPIMessageReceived.textMessage.json")
    status = payload("outgoingMessageStatus.delivered.json")
    assert post_webhook(status).json()["outcome"] == "waiting"
    with CaptureQueriesContext(connection) as queries:
        post_webhook(body)
    assert "pg_advisory_xact_lock" in queries[0]["sql"] or "pg_advisory_xact_lock" in queries[1]["sql"]
    assert Message.objects.get().status == "delivered"
    assert Notification.objects.get(type_webhook="outgoingMessageStatus").outcome == "processed"


@pytest.mark.parametrize("fast", [False, True])
def test_a_new_client_with_a_very_long_name_is_kept_with_the_name_cut(post_webhook, settings, fast) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    body = payload("incomingMessageReceived.textMessage.json")
    body["senderData"]["senderName"] = body["senderData"]["senderContactName"] = "Я" * 300
    assert post_webhook(body).json()["outcome"] == "processed"
    assert Client.objects.get().name == "Я" * 255
