"""Green API's side of the system tests: notifications posted at once to one or several web
processes, posted again until each got a 200 (its contract, REFERENCE §9), and what the database
must then hold."""

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import requests

from clients.models import Client
from whatsapp import stats
from whatsapp.models import Message, Notification


def deliver(urls: str | Sequence[str], bodies: list[dict], workers: int = 24) -> dict[int, int | None]:
    """POST each body once, concurrently, body i to the i-th server in turn (several hosts behind
    one address); the answer's status, or None when the connection broke."""
    servers = [urls] if isinstance(urls, str) else list(urls)

    def post(index: int) -> tuple[int, int | None]:
        try:
            answer = requests.post(
                f"{servers[index % len(servers)]}/whatsapp/webhook",
                data=json.dumps(bodies[index], ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            return index, answer.status_code
        except requests.RequestException:
            return index, None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(post, range(len(bodies))))


def redeliver_until_accepted(urls: str | Sequence[str], bodies: list[dict], answers: dict[int, int | None]) -> int:
    """What Green API does: send again whatever did not get a 200 (bounded rounds)."""
    rounds = 0
    pending = [i for i, code in answers.items() if code != 200]
    while pending and rounds < 20:
        rounds += 1
        time.sleep(0.5)
        again = deliver(urls, [bodies[i] for i in pending], workers=8)
        pending = [pending[j] for j, code in again.items() if code != 200]
    assert not pending, f"{len(pending)} notifications never got a 200"
    return rounds


def assert_stored_exactly_once(bodies: list[dict]) -> None:
    keys = {json.dumps(b, sort_keys=True) for b in bodies}
    distinct = [json.loads(k) for k in keys]
    assert Notification.objects.count() == len(distinct)
    message_ids = {b["idMessage"] for b in distinct if b["typeWebhook"] != "outgoingMessageStatus"}
    assert set(Message.objects.values_list("external_id", flat=True)) == message_ids
    assert Message.objects.count() == len(message_ids), "no message twice"
    assert not Message.objects.filter(notification__isnull=True).exists(), "nothing half-written"
    numbers = {b["senderData"]["chatId"].split("@")[0] for b in distinct if "senderData" in b}
    assert Client.objects.count() == len(numbers), "one client per number, however many raced"
    assert stats.message_counts()["total"] == len(message_ids)
    assert stats.clients_with_whatsapp() == len(numbers)
    assert not Notification.objects.filter(outcome="failed").exists()
