"""Statuses, edits, deletions, reactions and chat ids of every form (REFERENCE §3–§7)."""

import copy

import pytest

from clients.models import Client
from conftest import payload
from whatsapp.models import Message, Notification

pytestmark = pytest.mark.django_db

INSTANCE = 1103123456


def status_body(id_message: str, status: str, timestamp: int = 1763902500, **extra: object) -> dict:
    return {
        "typeWebhook": "outgoingMessageStatus",
        "chatId": "5511987654321@c.us",
        "instanceData": {"idInstance": INSTANCE, "wid": "77017654321@c.us", "typeInstance": "whatsapp"},
        "timestamp": timestamp,
        "idMessage": id_message,
        "status": status,
        "sendByApi": True,
        **extra,
    }


def outgoing_api() -> dict:
    return payload("outgoingAPIMessageReceived.textMessage.json")


def test_statuses_never_move_backwards(post_webhook) -> None:
    body = outgoing_api()
    post_webhook(body)
    for status in ["read", "delivered", "sent"]:
        assert post_webhook(status_body(body["idMessage"], status)).status_code == 200
    assert Message.objects.get().status == "read"


def test_failure_after_delivery_does_not_undo_the_delivery(post_webhook) -> None:
    body = outgoing_api()
    post_webhook(body)
    post_webhook(status_body(body["idMessage"], "delivered"))
    post_webhook(status_body(body["idMessage"], "failed", description="SWE004: late"))
    assert Message.objects.get().status == "delivered"


def test_failure_is_kept_with_its_description(post_webhook) -> None:
    body = outgoing_api()
    post_webhook(body)
    post_webhook(status_body(body["idMessage"], "noAccount", description="SWE004: 1000"))
    message = Message.objects.get()
    assert (message.status, message.status_description) == ("noAccount", "SWE004: 1000")


def test_status_that_arrives_before_its_message_is_applied_when_the_message_arrives(post_webhook) -> None:
    body = outgoing_api()
    early = post_webhook(status_body(body["idMessage"], "delivered"))
    assert early.status_code == 200
    assert early.json()["outcome"] == "waiting"
    post_webhook(body)
    assert Message.objects.get().status == "delivered"
    assert Notification.objects.get(type_webhook="outgoingMessageStatus").outcome == "processed"


def test_unknown_status_value_is_kept_as_ignored(post_webhook) -> None:
    body = outgoing_api()
    post_webhook(body)
    answer = post_webhook(status_body(body["idMessage"], "teleported"))
    assert answer.status_code == 200
    assert Notification.objects.get(type_webhook="outgoingMessageStatus").outcome == "ignored"
    assert Message.objects.get().status == "sent"


def test_both_outgoing_kinds_for_one_id_message_are_one_message(post_webhook) -> None:
    api = outgoing_api()
    phone = copy.deepcopy(api)
    phone["typeWebhook"] = "outgoingMessageReceived"
    post_webhook(api)
    post_webhook(phone)
    assert Message.objects.count() == 1


@pytest.mark.parametrize("chat_id", ["5511987654321:3@c.us", "5511987654321@s.whatsapp.net", "5511987654321@c.us"])
def test_status_chat_id_variants_all_reach_the_message(post_webhook, chat_id: str) -> None:
    body = outgoing_api()
    post_webhook(body)
    post_webhook(status_body(body["idMessage"], "read", chatId=chat_id))
    assert Message.objects.get().status == "read"


def test_status_without_chat_id_still_reaches_the_message(post_webhook) -> None:
    body = outgoing_api()
    post_webhook(body)
    status = status_body(body["idMessage"], "read")
    del status["chatId"]
    post_webhook(status)
    assert Message.objects.get().status == "read"


def _incoming(chat_id: str, sender: str | None = None, id_message: str = "A5F3B2C1D4E6F7081920AB3C4D5E6F70") -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = id_message
    body["senderData"]["chatId"] = chat_id
    body["senderData"]["sender"] = sender or chat_id
    return body


@pytest.mark.parametrize("chat_id", ["79031234567:12@c.us", "79031234567@s.whatsapp.net"])
def test_chat_id_forms_of_one_number_find_one_client(post_webhook, chat_id: str) -> None:
    post_webhook(_incoming("79031234567@c.us", id_message="FIRST00000000000"))
    post_webhook(_incoming(chat_id, id_message="SECOND0000000000"))
    assert Client.objects.get().whatsapp_id == "79031234567"
    assert Message.objects.count() == 2


def test_group_message_belongs_to_the_group_and_keeps_the_participant_as_its_author(post_webhook) -> None:
    body = payload("incomingMessageReceived.textMessage.group.json")
    post_webhook(body)
    message = Message.objects.get()
    assert message.client.whatsapp_group == "120363043968066561"
    assert message.author.whatsapp_id == "77079876543"
    assert message.chat_id == "120363043968066561@g.us"
    assert message.chat_name == "Отдел продаж 🇰🇿"
    assert not Client.objects.filter(whatsapp_id__startswith="120363").exists(), "a group is not a phone"


def test_lid_is_never_stored_as_a_phone_and_finds_the_same_person_again(post_webhook) -> None:
    post_webhook(_incoming("120650379300963@lid", id_message="LID0000000000001"))
    post_webhook(_incoming("120650379300963@lid", id_message="LID0000000000002"))
    client = Client.objects.get()
    assert client.whatsapp_id is None
    assert client.whatsapp_lid == "120650379300963"
    assert client.messages.count() == 2


def test_lid_seen_on_a_status_is_linked_to_the_phone_client(post_webhook) -> None:
    body = outgoing_api()
    post_webhook(body)
    post_webhook(status_body(body["idMessage"], "delivered", chatId="120650379300963@lid"))
    client = Client.objects.get()
    assert (client.whatsapp_id, client.whatsapp_lid) == ("5511987654321", "120650379300963")
    # The next message from that lid lands in the same conversation.
    post_webhook(_incoming("120650379300963@lid", id_message="LID0000000000003"))
    assert Client.objects.count() == 1
    assert client.messages.count() == 2


def _original(post_webhook) -> Message:
    post_webhook(payload("incomingMessageReceived.textMessage.json"))
    return Message.objects.get()


def _change(original: Message, kind: str, data: dict, id_message: str) -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = id_message
    body["messageData"] = {"typeMessage": kind, **data}
    return body


def test_edit_changes_the_original_and_keeps_the_old_text(post_webhook) -> None:
    original = _original(post_webhook)
    edit = _change(
        original,
        "editedMessage",
        {"editedMessageData": {"textMessage": "Исправлено", "stanzaId": original.external_id}},
        "EDIT000000000001",
    )
    post_webhook(edit)
    post_webhook(edit)  # a redelivered edit changes nothing more
    original.refresh_from_db()
    assert original.content == "Исправлено"
    assert original.previous_contents == ["Здравствуйте! Хочу заказать доставку на завтра 🚚 Сколько стоит?"]
    assert original.edited_at is not None
    assert Message.objects.count() == 1


def test_a_redelivered_edit_is_a_duplicate_while_its_original_exists_and_kept_as_its_own_once_deleted(
    post_webhook,
) -> None:
    original = _original(post_webhook)
    data = {"editedMessageData": {"textMessage": "Исправлено", "stanzaId": original.external_id}}
    edit = _change(original, "editedMessage", data, "EDIT000000000002")
    post_webhook(edit)
    assert post_webhook(edit).json()["duplicate"] is True
    Message.objects.all().delete()
    answer = post_webhook(edit).json()
    assert (answer["outcome"], answer["duplicate"]) == ("processed", False)
    assert Message.objects.get().external_id == "EDIT000000000002"


def test_deletion_marks_the_original_and_keeps_its_content(post_webhook) -> None:
    original = _original(post_webhook)
    post_webhook(
        _change(
            original, "deletedMessage", {"deletedMessageData": {"stanzaId": original.external_id}}, "DEL0000000000001"
        )
    )
    original.refresh_from_db()
    assert original.deleted_at is not None
    assert original.content.startswith("Здравствуйте!")
    assert Message.objects.count() == 1


def test_reaction_lands_on_the_original_and_can_be_taken_back(post_webhook) -> None:
    original = _original(post_webhook)

    def react(emoji: str, id_message: str) -> None:
        post_webhook(
            _change(
                original,
                "reactionMessage",
                {"extendedTextMessageData": {"text": emoji}, "quotedMessage": {"stanzaId": original.external_id}},
                id_message,
            )
        )

    react("👍", "REACT00000000001")
    original.refresh_from_db()
    assert original.reaction == "👍"
    react("", "REACT00000000002")
    original.refresh_from_db()
    assert original.reaction == ""
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("message_data", "content"),
    [
        (
            {"typeMessage": "templateButtonReplyMessage", "templateButtonReplyMessage": {"selectedDisplayText": "Sim"}},
            "Sim",
        ),
        ({"typeMessage": "contactsArrayMessage", "contacts": [{"displayName": "Ana"}]}, "👥 Ana"),
        (
            {"typeMessage": "extendedTextMessage", "extendedTextMessageData": {"text": "plain, no link"}},
            "plain, no link",
        ),
        (
            {"typeMessage": "textMessage", "textMessageData": {"textMessage": "{{SWE003}}"}},
            "{{SWE003}} (WhatsApp could not",
        ),
        (
            {"typeMessage": "imageMessage", "fileMessageData": {"downloadUrl": "{{SWE002}}", "caption": ""}},
            "🖼 Photo — {{SWE002}}",
        ),
    ],
)
def test_other_spellings_and_shapes_are_read(post_webhook, message_data: dict, content: str) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    body["messageData"] = message_data
    post_webhook(body)
    assert Message.objects.get().content.startswith(content)


def test_missing_optional_names_are_fine(post_webhook) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    body["senderData"] = {"chatId": "79031234567@c.us", "sender": "79031234567@c.us"}
    del body["timestamp"]
    assert post_webhook(body).json()["outcome"] == "processed"
    message = Message.objects.get()
    assert message.client.name == ""
    assert message.sent_at is not None  # no timestamp: the time it arrived, for the conversation's order


def test_replay_includes_waiting_statuses_when_asked(post_webhook) -> None:
    from django.core.management import call_command

    body = outgoing_api()
    post_webhook(status_body(body["idMessage"], "read"))
    client = Client.objects.create(whatsapp_id="5511987654321")
    # The message reaches the database by a way that does not look for waiting statuses.
    Message.objects.create(
        client=client, direction="outbound", status="sent", external_id=body["idMessage"], instance_id=INSTANCE
    )
    call_command("replay_notifications", stdout=open("/dev/null", "w"))
    assert Message.objects.get().status == "sent", "waiting ones only with --include-waiting"
    call_command("replay_notifications", "--include-waiting", stdout=open("/dev/null", "w"))
    assert Message.objects.get().status == "read"
    assert Notification.objects.get().outcome == "processed"
    assert Notification.objects.get().deliveries == 1, "a replay is not a delivery"
