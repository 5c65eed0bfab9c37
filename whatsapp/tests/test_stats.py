"""GET /whatsapp/stats: the guide's answer, behind a JWT."""

import pytest

from clients.models import Client
from conftest import payload
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


def test_stats_needs_a_token(client) -> None:
    assert client.get("/whatsapp/stats").status_code == 401
    assert client.get("/whatsapp/stats", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401


def test_stats_has_the_guides_shape(api, post_webhook) -> None:
    post_webhook(payload("incomingMessageReceived.textMessage.json"))
    post_webhook(payload("outgoingAPIMessageReceived.textMessage.json"))
    body = api.get("/whatsapp/stats").json()
    assert body["totalMessages"] == 2
    assert body["clientsWithWhatsApp"] == 2
    newest = body["recentMessages"][0]
    assert set(newest) >= {
        "id",
        "content",
        "clientId",
        "clientName",
        "clientWhatsappId",
        "direction",
        "createdAt",
        "externalId",
    }
    assert newest["externalId"] == "BAE5F4886A9C1E21", "newest first"
    assert newest["direction"] == "outbound"
    assert newest["clientWhatsappId"] == "5511987654321"
    assert newest["createdAt"].endswith("Z")
    assert len(newest["createdAt"]) == len("2024-01-15T10:30:00.000Z")
    assert body["messagesByDirection"] == {"inbound": 1, "outbound": 1}
    assert body["messagesByStatus"] == {"received": 1, "sent": 1}
    assert body["lastNotificationType"] == "outgoingAPIMessageReceived"
    assert body["failedNotificationsLast24h"] == 0


def test_stats_limit(api) -> None:
    client = Client.objects.create(name="Many", whatsapp_id="79990000000")
    Message.objects.bulk_create(
        [Message(client=client, direction="inbound", content=str(i), external_id=f"ID{i:020d}") for i in range(120)]
    )
    assert len(api.get("/whatsapp/stats").json()["recentMessages"]) == 10
    assert len(api.get("/whatsapp/stats?limit=3").json()["recentMessages"]) == 3
    assert len(api.get("/whatsapp/stats?limit=100").json()["recentMessages"]) == 100


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5"])
def test_bad_limit_is_a_400(api, limit: str) -> None:
    answer = api.get(f"/whatsapp/stats?limit={limit}")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("limit: ")
    assert "limit" in answer.json()["errors"]


def test_stats_counts_only_whatsapp_messages_and_clients_with_whatsapp(api) -> None:
    with_wa = Client.objects.create(name="WA", whatsapp_id="79990000001")
    Client.objects.create(name="No WhatsApp", phone="+7 999 000-00-02")
    Message.objects.create(client=with_wa, direction="inbound", content="hi", external_id="X0000000000000001")
    Message.objects.create(client=with_wa, channel="email", direction="inbound", content="mail", external_id="m1")
    body = api.get("/whatsapp/stats").json()
    assert body["totalMessages"] == 1
    assert body["clientsWithWhatsApp"] == 1
