"""POST /whatsapp/webhook: the guide's procedures, what it answers, and what it keeps."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from clients.models import Client
from conftest import payload, postgres_only
from whatsapp.models import Message, Notification

pytestmark = pytest.mark.django_db

# The troubleshooting guide's manual test body, word for word.
GUIDE_BODY = {
    "typeWebhook": "incomingMessageReceived",
    "timestamp": 1234567890,
    "idMessage": "test-123",
    "data": {
        "typeMessage": "textMessage",
        "chatId": "79991234567@c.us",
        "senderId": "79991234567@c.us",
        "senderName": "Test User",
        "textMessage": "Тестовое сообщение",
        "idMessage": "test-123",
        "timestamp": 1234567890,
    },
}


def test_guide_test_body_creates_client_and_inbound_message(post_webhook) -> None:
    answer = post_webhook(GUIDE_BODY)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["status"] == "ok"
    message = Message.objects.get()
    assert message.content == "Тестовое сообщение"
    assert message.direction == "inbound"
    assert message.channel == "whatsapp"
    assert message.external_id == "test-123"
    assert message.client.whatsapp_id == "79991234567"
    assert message.client.name == "Test User"
    assert json.loads(message.notification.body) == GUIDE_BODY


def test_guide_log_lines_are_printed(post_webhook, capsys) -> None:
    post_webhook(GUIDE_BODY)
    out = capsys.readouterr().out
    for line in [
        "═" * 55,
        "📨 Received webhook from Green API",
        "📅 Time: ",
        "📦 Body type: object",
        "📦 Body keys: typeWebhook, timestamp, idMessage, data",
        '📦 Full body: {\n  "typeWebhook": "incomingMessageReceived"',
        "Extracted phone number from chatId 79991234567@c.us: 79991234567",
        "Finding or creating client for phone: 79991234567",
        "Created new client: ",
        "Incoming message processed: test-123",
    ]:
        assert line in out, line
    post_webhook({**GUIDE_BODY, "idMessage": "test-124", "data": {**GUIDE_BODY["data"], "idMessage": "test-124"}})
    assert "Found existing client: " in capsys.readouterr().out


def clean_up_as_the_guide_says(way: str) -> None:
    if way == "command":
        call_command("clear_whatsapp_messages", "--noinput", stdout=io.StringIO())
    else:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM messages WHERE channel = 'whatsapp';")


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("way", ["command", "sql"])
def test_after_the_guides_clean_up_its_test_webhook_is_stored_again(post_webhook, settings, capsys, fast, way) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    assert post_webhook(GUIDE_BODY).json()["duplicate"] is False
    clean_up_as_the_guide_says(way)
    assert not Message.objects.exists()
    capsys.readouterr()
    answer = post_webhook(GUIDE_BODY).json()
    assert (answer["outcome"], answer["duplicate"]) == ("processed", False)
    assert Message.objects.get().content == "Тестовое сообщение"
    out = capsys.readouterr().out
    for line in [
        "📨 Received webhook from Green API",
        "Extracted phone number from chatId 79991234567@c.us: 79991234567",
        "Finding or creating client for phone: 79991234567",
        "Found existing client: ",
        "Incoming message processed: test-123",
    ]:
        assert line in out, line
    # Its message exists again: a redelivery is a duplicate once more.
    again = post_webhook(GUIDE_BODY).json()
    assert (again["outcome"], again["duplicate"]) == ("processed", True)
    assert Message.objects.count() == 1
    assert Client.objects.count() == 1
    assert Notification.objects.get().deliveries == 3


def test_full_body_dump_can_be_turned_off(post_webhook, capsys, settings) -> None:
    settings.WEBHOOK_LOG_FULL_BODY = False
    post_webhook(GUIDE_BODY)
    out = capsys.readouterr().out
    assert "📨 Received webhook from Green API" in out
    assert "📦 Full body" not in out
    assert "Тестовое сообщение" not in out


def test_same_id_message_delivered_again_is_stored_once(post_webhook) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    first, second = post_webhook(body), post_webhook(body)
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert Message.objects.count() == 1
    assert Client.objects.count() == 1
    notification = Notification.objects.get()
    assert notification.deliveries == 2


def test_same_id_message_from_two_instances_is_two_messages(post_webhook) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    other = {**body, "instanceData": {**body["instanceData"], "idInstance": 7700000001}}
    post_webhook(body)
    post_webhook(other)
    assert sorted(Message.objects.values_list("instance_id", flat=True)) == [1103123456, 7700000001]
    assert Client.objects.count() == 1


@pytest.mark.parametrize("header", ["Bearer s3cret-token", "s3cret-token", "bearer s3cret-token"])
def test_webhook_token_is_accepted_as_bearer_or_bare(post_webhook, settings, header: str) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "s3cret-token"
    assert post_webhook(GUIDE_BODY, Authorization=header).status_code == 200
    assert Message.objects.count() == 1


@pytest.mark.parametrize("header", [None, "", "Bearer wrong", "Bearer s3cret-token-and-more", "Basic s3cret-token"])
def test_missing_or_wrong_webhook_token_is_401_and_stores_nothing(post_webhook, settings, header) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "s3cret-token"
    headers = {} if header is None else {"Authorization": header}
    answer = post_webhook(GUIDE_BODY, **headers)
    assert answer.status_code == 401
    assert "error" in answer.json()
    assert not Notification.objects.exists()
    assert not Message.objects.exists()
    assert not Client.objects.exists()


@pytest.mark.parametrize("body", [b"not json", b"", b"[1, 2]", b'"text"', b"42", b"null", b'{"a": 1', b"\xff\xfe"])
def test_body_that_is_not_a_json_object_is_a_400_with_a_json_error(post_webhook, body: bytes) -> None:
    answer = post_webhook(body)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert not Notification.objects.exists()


def test_body_over_the_limit_is_413(post_webhook, settings) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 2000
    body = {**GUIDE_BODY, "data": {**GUIDE_BODY["data"], "textMessage": "я" * 2000}}
    answer = post_webhook(body)
    assert answer.status_code == 413
    assert not Notification.objects.exists()


def test_real_media_notification_fits_the_default_limit(post_webhook) -> None:
    body = payload("incomingMessageReceived.imageMessage.json")
    body["messageData"]["fileMessageData"]["jpegThumbnail"] = "A" * 60_000  # thumbnails are inline base64
    assert post_webhook(body).status_code == 200


def test_get_is_405_and_never_a_redirect(client) -> None:
    assert client.get("/whatsapp/webhook").status_code == 405
    assert client.post("/whatsapp/webhook/", data="{}", content_type="application/json").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"typeWebhook": "somethingNew", "idMessage": "X1234567890123456"}, "unknown typeWebhook 'somethingNew'"),
        ({"foo": "bar"}, "typeWebhook is missing"),
        (
            {"typeWebhook": "incomingMessageReceived", "idMessage": "A1", "senderData": {}},
            "senderData.chatId is missing",
        ),
        (
            {"typeWebhook": "outgoingMessageStatus", "idMessage": "A2", "status": "", "chatId": "1@c.us"},
            "status is empty",
        ),
        (
            {"typeWebhook": "incomingMessageReceived", "senderData": {"chatId": "79991234567@c.us"}},
            "idMessage is missing",
        ),
    ],
)
def test_unknown_or_malformed_json_object_is_kept_as_ignored_and_answered_200(post_webhook, body, reason) -> None:
    answer = post_webhook(body)
    assert answer.status_code == 200, "any other answer stalls Green API's queue"
    notification = Notification.objects.get()
    assert notification.outcome == "ignored"
    assert reason in notification.detail
    assert json.loads(notification.body) == body


def test_unknown_message_type_is_kept_with_a_placeholder(post_webhook) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    body["messageData"] = {"typeMessage": "hologramMessage", "hologramMessageData": {"x": 1}}
    post_webhook(body)
    message = Message.objects.get()
    assert message.type_message == "hologramMessage"
    assert message.content == "[Unsupported message type: hologramMessage]"


def test_swe_placeholder_is_shown_with_its_meaning(post_webhook) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    body["messageData"]["textMessageData"]["textMessage"] = "{{SWE001}}"
    post_webhook(body)
    assert Message.objects.get().content.startswith("{{SWE001}} (WhatsApp delivered this message empty")


def test_processing_failure_keeps_the_notification_as_failed_and_replay_fixes_it(
    post_webhook, reject_message_inserts, capsys
) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    answer = post_webhook(body)
    assert answer.status_code == 200, "a bug of ours must not stall Green API's queue"
    notification = Notification.objects.get()
    assert notification.outcome == "failed"
    assert "read-only for maintenance" in notification.detail
    assert not Message.objects.exists()
    assert not Client.objects.exists(), "the failed processing was rolled back whole"
    out = capsys.readouterr().out
    assert "❌ Error handling webhook: incomingMessageReceived A5F3B2C1D4E6F7081920AB3C4D5E6F70" in out

    reject_message_inserts()
    call_command("replay_notifications")
    call_command("replay_notifications")  # idempotent
    notification.refresh_from_db()
    assert notification.outcome == "processed"
    assert Message.objects.get().external_id == body["idMessage"]


def test_redelivery_of_a_failed_notification_processes_it_again(post_webhook, reject_message_inserts) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    post_webhook(body)
    reject_message_inserts()
    assert post_webhook(body).json()["outcome"] == "processed"
    assert Message.objects.count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_database_down_is_503_with_retry_after_and_nothing_half_written(post_webhook) -> None:
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there: the server is "down"
    try:
        answer = post_webhook(GUIDE_BODY)
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "60"
    assert "error" in answer.json()
    assert not Notification.objects.exists()
    # Green API redelivers; the database is back.
    assert post_webhook(GUIDE_BODY).status_code == 200
    assert Message.objects.count() == 1


def test_production_log_is_one_masked_line_per_notification(post_webhook, capsys, settings) -> None:
    settings.LOG_MODE = "production"
    settings.WEBHOOK_LOG_FULL_BODY = False
    post_webhook(GUIDE_BODY)
    out = capsys.readouterr().out
    assert out.strip() == "📨 Received webhook from Green API: incomingMessageReceived test-123 processed"
    assert "79991234567" not in out
    assert "Тестовое сообщение" not in out


def test_production_log_masks_numbers_in_warnings_and_errors(post_webhook, capsys, settings) -> None:
    settings.LOG_MODE = "production"
    body = {**GUIDE_BODY, "data": {**GUIDE_BODY["data"], "chatId": "79991234567@g.us", "senderId": "79991234567@g.us"}}
    post_webhook(body)
    out = capsys.readouterr().out
    assert "⚠️ Warning: " in out
    assert "7999*****67" in out
    assert "79991234567" not in out


def test_the_webhook_token_and_authorization_header_are_never_logged(post_webhook, capsys, settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "s3cret-token-in-a-header"
    post_webhook(GUIDE_BODY, Authorization="Bearer s3cret-token-in-a-header")
    post_webhook(GUIDE_BODY, Authorization="Bearer wrong-token-someone-tried")
    out = capsys.readouterr()
    for secret in ["s3cret-token-in-a-header", "wrong-token-someone-tried", "Authorization"]:
        assert secret not in out.out + out.err
