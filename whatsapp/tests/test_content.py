"""What Green API sends, read as a person would: links, polls, replies, calls, devices, statuses."""

import pytest

from clients.models import Client
from conftest import payload
from whatsapp.models import Instance, Message

pytestmark = pytest.mark.django_db

# Each test that stores a message runs both ways: the fast path (PostgreSQL) and the general one.
both_ways = pytest.mark.parametrize("fast", [False, True], ids=["general", "fast"])


def post_both_ways(post_webhook, settings, fast: bool, body: dict) -> Message:
    settings.WEBHOOK_FAST_PATH = fast
    Client.objects.get_or_create(whatsapp_id=body["senderData"]["sender"].split("@")[0])
    assert post_webhook(body).json()["outcome"] == "processed"
    return Message.objects.get(external_id=body["idMessage"])


@both_ways
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "ftp://files.example.com/a.pdf",
        "//evil.example.com/a.pdf",
        "https:evil.example.com",
        "https://",
        "https://evil.example.com/a b",
    ],
)
def test_a_file_link_that_is_not_an_http_url_is_kept_as_text_not_as_a_link(
    post_webhook, settings, fast: bool, url: str
) -> None:
    body = payload("incomingMessageReceived.documentMessage.json")
    body["messageData"]["fileMessageData"]["downloadUrl"] = url
    message = post_both_ways(post_webhook, settings, fast, body)
    assert message.media_url == ""
    assert message.content.startswith("Реквизиты для счёта — file link not kept (not an http(s) address): ")
    assert url.strip() in message.content


@both_ways
@pytest.mark.parametrize("url", ["https://sw-media-1103.storage.yandexcloud.net/1103/a.pdf", "HTTP://example.com/a"])
def test_an_http_file_link_is_kept_as_the_link(post_webhook, settings, fast: bool, url: str) -> None:
    body = payload("incomingMessageReceived.documentMessage.json")
    body["messageData"]["fileMessageData"]["downloadUrl"] = url
    message = post_both_ways(post_webhook, settings, fast, body)
    assert (message.media_url, message.content) == (url, "Реквизиты для счёта")


@both_ways
def test_a_poll_in_the_2023_shape_reads_as_todays(post_webhook, settings, fast: bool) -> None:
    today = payload("incomingMessageReceived.pollMessage.json")
    body = payload("incomingMessageReceived.pollMessage.2023.json")
    body["messageData"]["pollCreationMessage"] = today["messageData"]["pollMessageData"]
    body["senderData"] = today["senderData"]
    message = post_both_ways(post_webhook, settings, fast, body)
    assert message.content == "📊 Когда проводим планёрку? 🗓 — Пн 10:00 / Вт 15:00 / Ср 11:30"


@both_ways
@pytest.mark.parametrize("spelling", ["TextMessage", "textmessage", "TEXTMESSAGE"])
def test_type_message_is_read_whatever_its_case(post_webhook, settings, fast: bool, spelling: str) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    body["messageData"]["typeMessage"] = spelling
    message = post_both_ways(post_webhook, settings, fast, body)
    assert (message.type_message, message.content) == (
        "textMessage",
        body["messageData"]["textMessageData"]["textMessage"],
    )


def test_a_device_notification_without_device_data_keeps_the_stored_device(post_webhook) -> None:
    post_webhook(payload("deviceInfo.json"))
    assert post_webhook(payload("deviceInfo.avatarInfo.json")).json()["outcome"] == "processed"
    assert Instance.objects.get().device["deviceModel"] == "SM-A546E"


def test_an_outgoing_call_is_recorded_as_the_incoming_call_is(post_webhook) -> None:
    answer = post_webhook(payload("outgoingCall.json")).json()
    assert (answer["outcome"], answer["detail"]) == ("processed", "outgoing call pickUp to 79031234567@c.us")
    assert Instance.objects.filter(id_instance=1103123456).exists()


@both_ways
def test_the_status_fail_is_a_failure(post_webhook, settings, fast: bool) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    body = payload("outgoingMessageStatus.failed.json")
    body["status"] = "fail"
    client = Client.objects.create(whatsapp_id="77017654321")
    Message.objects.create(
        client=client, direction="outbound", status="sent", external_id=body["idMessage"], instance_id=1103123456
    )
    assert post_webhook(body).json()["outcome"] == "processed"
    message = Message.objects.get()
    assert (message.status, message.status_description) == ("failed", body["description"])


QUOTED = {
    # The current shape: any message may carry quotedMessage {stanzaId, participant, typeMessage, …}.
    "textMessage.withQuote": (
        "BAE5F4886A9C1E21",
        "Можем доставить завтра с 10:00 до 14:00, стоимость 1500 ₽.",
        "77017654321",
    ),
    # The legacy `quotedMessage` type.
    "quotedMessage": ("BAE5C0FFEE123456", "Курьер будет у вас через 30 минут.", "77017654321"),
}


@both_ways
@pytest.mark.parametrize("name", QUOTED)
def test_a_reply_keeps_what_it_quotes_and_who_wrote_it(post_webhook, settings, fast: bool, name: str) -> None:
    message = post_both_ways(post_webhook, settings, fast, payload(f"incomingMessageReceived.{name}.json"))
    assert (message.quoted_external_id, message.quoted_content, message.quoted_sender) == QUOTED[name]


@pytest.mark.parametrize(
    ("quoted", "text"),
    [
        ({"typeMessage": "imageMessage", "caption": "Вот фото", "downloadUrl": "https://x.example/a.jpg"}, "Вот фото"),
        ({"typeMessage": "imageMessage", "caption": "", "downloadUrl": "https://x.example/a.jpg"}, "🖼 Photo"),
        ({"typeMessage": "locationMessage", "location": {"nameLocation": "ТРЦ Mega", "address": "Алматы"}}, "ТРЦ Mega"),
        ({"typeMessage": "contactMessage", "contact": {"displayName": "Игорь"}}, "Игорь"),
        ({"typeMessage": "extendedTextMessage", "extendedTextMessage": {"title": "Ссылка"}}, "Ссылка"),
    ],
)
def test_a_quote_of_any_kind_reads_as_a_person_would(post_webhook, quoted: dict, text: str) -> None:
    body = payload("incomingMessageReceived.textMessage.withQuote.json")
    body["messageData"]["quotedMessage"] = {"stanzaId": "Q1", "participant": "79031234567@c.us", **quoted}
    post_webhook(body)
    assert (Message.objects.get().quoted_content, Message.objects.get().quoted_sender) == (text, "79031234567")


def test_a_reaction_is_not_a_reply(post_webhook) -> None:
    post_webhook(payload("incomingMessageReceived.reactionMessage.json"))
    message = Message.objects.get()
    assert (message.quoted_external_id, message.quoted_content) == ("", "")


def test_the_conversation_shows_the_quoted_text_from_the_notification_when_the_message_is_not_here(
    post_webhook, client
) -> None:
    from accounts.models import User

    post_webhook(payload("incomingMessageReceived.textMessage.withQuote.json"))
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="pw"))
    page = client.get(f"/admin/clients/client/{Message.objects.get().client_id}/change/").content.decode()
    assert "↪ 77017654321: Можем доставить завтра с 10:00 до 14:00, стоимость 1500 ₽." in page
    assert "reply to a message not stored here" not in page
