"""Concurrent deliveries against PostgreSQL, over real HTTP: the database's constraints decide."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from clients.models import Client
from conftest import payload, postgres_only
from whatsapp import stats
from whatsapp.models import Message, Notification

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

THREADS = 12


def post_all(url: str, bodies: list[dict]) -> list[int]:
    def post(body: dict) -> int:
        data = json.dumps(body, ensure_ascii=False).encode()
        return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(post, bodies))


def test_many_deliveries_at_once_for_one_new_number_make_exactly_one_client(live_server) -> None:
    bodies = []
    for i in range(THREADS * 3):
        body = payload("incomingMessageReceived.textMessage.json")
        body["idMessage"] = f"RACE{i:028d}"
        bodies.append(body)
    statuses = post_all(f"{live_server.url}/whatsapp/webhook", bodies)
    assert statuses == [200] * len(bodies)
    assert Client.objects.count() == 1
    assert Message.objects.count() == len(bodies)
    assert stats.message_counts()["total"] == len(bodies), "counters stay exact under concurrency"
    assert stats.clients_with_whatsapp() == 1
    assert set(Notification.objects.values_list("outcome", flat=True)) == {"processed"}


def test_the_same_notification_many_times_at_once_makes_one_message(live_server) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    statuses = post_all(f"{live_server.url}/whatsapp/webhook", [body] * (THREADS * 3))
    assert statuses == [200] * (THREADS * 3)
    assert Message.objects.count() == 1
    notification = Notification.objects.get()
    assert notification.deliveries == THREADS * 3
    assert notification.outcome == "processed"


def test_statuses_racing_their_message_all_land(live_server) -> None:
    """Statuses for a message posted at the same moment as the message: none may stay waiting."""
    bodies = []
    for i in range(THREADS):
        message = payload("outgoingAPIMessageReceived.textMessage.json")
        message["idMessage"] = f"BAE5RACE{i:012d}"
        status = {
            "typeWebhook": "outgoingMessageStatus",
            "chatId": message["senderData"]["chatId"],
            "instanceData": message["instanceData"],
            "timestamp": 1763902500,
            "idMessage": message["idMessage"],
            "status": "read",
        }
        bodies += [status, message]
    assert post_all(f"{live_server.url}/whatsapp/webhook", bodies) == [200] * len(bodies)
    assert set(Message.objects.values_list("status", flat=True)) == {"read"}
    assert not Notification.objects.filter(outcome="waiting").exists()
