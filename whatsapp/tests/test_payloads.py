"""Every example notification in whatsapp/tests/payloads/, posted over HTTP, checked in the database."""

import pytest

from clients.models import Client
from conftest import PAYLOADS, payload
from whatsapp.models import Instance, Message, Notification

pytestmark = pytest.mark.django_db

# What a person should read, and the structured parts, for each message payload.
INCOMING = {
    "textMessage": {"content": "Здравствуйте! Хочу заказать доставку на завтра 🚚 Сколько стоит?"},
    "textMessage.group": {
        "content": "Сәлеметсіз бе! Бүгінгі тапсырыс дайын ба? 🙏",
        "chat_id": "120363043968066561@g.us",
        "chat_name": "Отдел продаж 🇰🇿",
    },
    "textMessage.withQuote": {"content": "Да, этот вариант подходит 👍", "quoted_external_id": "BAE5F4886A9C1E21"},
    "quotedMessage": {"content": "Хорошо, жду курьера", "quoted_external_id": "BAE5C0FFEE123456"},
    "extendedTextMessage": {"type_message": "extendedTextMessage"},
    "imageMessage": {"media_url": "https://", "mime_type": "image/"},
    "videoMessage": {"media_url": "https://", "mime_type": "video/"},
    "audioMessage": {"media_url": "https://", "mime_type": "audio/"},
    "documentMessage": {
        "content": "Реквизиты для счёта",
        "file_name": "Реквизиты ООО Ромашка.pdf",
        "mime_type": "application/pdf",
        "media_url": "https://sw-media-1103.storage.yandexcloud.net/",
    },
    "stickerMessage": {"content": "Sticker", "mime_type": "image/webp"},
    "locationMessage": {
        "content": "📍 ТРЦ Mega Alma-Ata, ул. Розыбакиева, 247А, Алматы",
        "latitude": 43.2020454,
        "longitude": 76.8921271,
    },
    "contactMessage": {"content": "👤 Игорь Петров (бухгалтерия)"},
    "contactsArrayMessage": {"content": "👥 Maria Oliveira, Carlos Souza"},
    "pollMessage": {"content": "📊 Когда проводим планёрку? 🗓 — Пн 10:00 / Вт 15:00 / Ср 11:30"},
    "pollMessage.2023": {"content": "📊 Доставка: утром или вечером? — Утром ☀️ / Вечером 🌙"},
    "pollUpdateMessage": {
        "content": "🗳 Когда проводим планёрку? 🗓: Вт 15:00",
        "quoted_external_id": "BAE59896B404EB11",
    },
    "buttonsResponseMessage": {"content": "Подтвердить заказ ✅", "quoted_external_id": "BAE53AFDD5F0C137"},
    "templateButtonsReplyMessage": {"content": "Falar com atendente", "quoted_external_id": "BAE53AFDD5F0C138"},
    "listResponseMessage": {"content": "Доставка по Астане", "quoted_external_id": "BAE53AFDD5F0C139"},
    "interactiveButtonsResponse": {"content": "Перезвоните мне 📞", "quoted_external_id": "BAE5FB1FDA0E58E8"},
    "groupInviteMessage": {"content": "Присоединяйтесь к группе оптовиков"},
    # Lifecycle notifications whose original is not stored: kept as messages of their own.
    "editedMessage": {"content": "Адрес: пр. Абая, 150, кв. 12 (исправил номер квартиры)"},
    "reactionMessage": {"content": "❤️"},
    "deletedMessage": {"type_message": "deletedMessage"},
}


def _check(message: Message, expected: dict) -> None:
    for field, value in expected.items():
        actual = getattr(message, field)
        if isinstance(value, str) and field in ("media_url", "mime_type"):
            assert actual.startswith(value), (field, actual)
        else:
            assert actual == value, (field, actual)


@pytest.mark.parametrize("variant", sorted(INCOMING))
def test_incoming_payload_becomes_one_readable_inbound_message(post_webhook, variant: str) -> None:
    body = payload(f"incomingMessageReceived.{variant}.json")
    answer = post_webhook(body)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "processed"
    message = Message.objects.get(external_id=body["idMessage"])
    assert message.direction == "inbound"
    assert message.status == "received"
    assert message.instance_id == 1103123456
    assert message.channel == "whatsapp"
    assert message.content, "every message has something a person can read"
    assert message.notification.body.startswith("{")
    _check(message, INCOMING[variant])
    sender = body["senderData"]["sender"].split("@")[0]
    chat, kind = body["senderData"]["chatId"].split("@")
    if kind == "g.us":  # the group's conversation, written by its participant
        assert (message.client.whatsapp_group, message.author.whatsapp_id) == (chat, sender)
    else:
        assert (message.client.whatsapp_id, message.author) == (sender, None)
    assert Notification.objects.get().outcome == "processed"


def test_every_payload_file_has_a_test() -> None:
    files = {p.name for p in PAYLOADS.glob("*.json")}
    covered = {f"incomingMessageReceived.{v}.json" for v in INCOMING} | {
        p.name for p in PAYLOADS.glob("outgoing*Message*.json")
    }
    covered |= {f"{kind}.json" for kind in INSTANCE_EVENTS} | {"receiveNotification.response.json"}
    assert files - covered == set()


@pytest.mark.parametrize("kind", ["outgoingMessageReceived", "outgoingAPIMessageReceived"])
def test_outgoing_payload_becomes_an_outbound_message_of_the_recipient(post_webhook, kind: str) -> None:
    body = payload(f"{kind}.textMessage.json")
    assert post_webhook(body).status_code == 200
    message = Message.objects.get(external_id=body["idMessage"])
    assert message.direction == "outbound"
    assert message.status == "sent"
    recipient = body["senderData"]["chatId"].split("@")[0]
    assert message.client.whatsapp_id == recipient
    # `sender` is our own number: it must never become a client.
    own = body["senderData"]["sender"].split("@")[0]
    assert not Client.objects.filter(whatsapp_id=own).exists()
    # Our business's name is not the client's name.
    assert message.client.name == ""


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "failed", "noAccount", "yellowCard"])
def test_status_payload_sets_the_status_of_its_outbound_message(post_webhook, status: str) -> None:
    body = payload(f"outgoingMessageStatus.{status}.json")
    client = Client.objects.create(name="Recipient", whatsapp_id="5511987654321")
    Message.objects.create(
        client=client, direction="outbound", status="pending", external_id=body["idMessage"], instance_id=1103123456
    )
    answer = post_webhook(body)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "processed"
    message = Message.objects.get(external_id=body["idMessage"])
    assert message.status == status
    assert message.status_description == body.get("description", "")


INSTANCE_EVENTS = {
    "stateInstanceChanged.authorized": ("state", "authorized"),
    "stateInstanceChanged.notAuthorized": ("state", "notAuthorized"),
    "statusInstanceChanged.offline": ("socket_status", "offline"),
    "deviceInfo": ("device", {"platform": "android"}),
    "quotaExceeded": ("quota", {"status": "CORRESPONDENTS_QUOTA_EXCEEDED"}),
    "incomingBlock": ("last_blocked_at", "set"),
    "incomingCall.offer": (None, "call offer from 79031234567@c.us"),
    "incomingCall.declined": (None, "call declined from 79031234567@c.us"),
    "outgoingCall": (None, "outgoing call pickUp to 79031234567@c.us"),
    "deviceInfo.avatarInfo": (None, "no deviceData: the device is kept as it was"),
}


@pytest.mark.parametrize("name", sorted(INSTANCE_EVENTS))
def test_instance_event_is_recorded(post_webhook, name: str) -> None:
    answer = post_webhook(payload(f"{name}.json"))
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "processed"
    field, expected = INSTANCE_EVENTS[name]
    notification = Notification.objects.get()
    assert notification.type_webhook == name.split(".")[0]
    if field is None:
        assert notification.detail == expected
        return
    value = getattr(Instance.objects.get(id_instance=1103123456), field)
    if isinstance(expected, dict):
        assert expected.items() <= value.items()
    elif expected == "set":
        assert value is not None
    else:
        assert value == expected
    assert not Message.objects.exists()


def test_the_call_offer_and_its_outcome_are_two_notifications(post_webhook) -> None:
    post_webhook(payload("incomingCall.offer.json"))
    post_webhook(payload("incomingCall.declined.json"))
    assert Notification.objects.count() == 2


def test_latest_instance_state_wins_whatever_the_arrival_order(post_webhook) -> None:
    newer = payload("stateInstanceChanged.notAuthorized.json")
    older = payload("stateInstanceChanged.authorized.json")
    assert newer["timestamp"] > older["timestamp"]
    post_webhook(newer)
    post_webhook(older)
    instance = Instance.objects.get()
    assert instance.state == "notAuthorized"
    assert instance.wid == ""


def test_polling_wrapper_is_unwrapped_and_processed(post_webhook) -> None:
    body = payload("receiveNotification.response.json")
    assert post_webhook(body).json()["outcome"] == "processed"
    assert Message.objects.get().external_id == body["body"]["idMessage"]
