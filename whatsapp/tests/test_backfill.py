"""greenapi_backfill and the periodic backfill: messages only Green API's history has, stored once,
matched to their client as the webhook would, marked as recovered."""

import io
import json
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from clients.models import Client
from conftest import PAYLOADS, greenapi_env, make_jobs_due, payload, postgres_only, run_jobs
from crm.testing.servers import Gunicorn, database_url
from crm.testing.workers import Worker
from jobs.services import jobs_schedule
from whatsapp.backfill import LAST_RUN_KEY, window_minutes
from whatsapp.history import as_notification
from whatsapp.kinds import parse
from whatsapp.models import Message, Notification
from whatsapp.rows import message_columns

HISTORY = PAYLOADS / "history"
pytestmark = pytest.mark.usefixtures("no_backfill_yet")

# The history's flat message and the webhook's notification of the same message.
TWINS = {
    "A5F3B2C1D4E6F7081920AB3C4D5E6F70": "incomingMessageReceived.textMessage.json",
    "3EB0A1C2D3E4F5061728": "incomingMessageReceived.textMessage.group.json",
    "D4C3B2A1F0E9D8C7B6A5948372615049": "incomingMessageReceived.imageMessage.json",
    "4A5B6C7D8E9F0A1B2C3D4E5F60718293": "incomingMessageReceived.locationMessage.json",
    "F7AEC1B7086ECDC7E6E45923F5EDB825": "outgoingMessageReceived.textMessage.json",
    "BAE5F4886A9C1E21": "outgoingAPIMessageReceived.textMessage.json",
}


def history(name: str) -> list[dict]:
    return json.loads((HISTORY / name).read_text(encoding="utf-8"))


def everything() -> dict[str, dict]:
    items = history("lastIncomingMessages.response.json") + history("lastOutgoingMessages.response.json")
    return {item["idMessage"]: item for item in items + history("getChatHistory.response.json")}


def fill_history(fake, *, minutes_ago: float = 30) -> None:
    """Green API's history as the payload files have it, the messages `minutes_ago` old."""
    now = time.time() - minutes_ago * 60
    for item in everything().values():
        item["timestamp"] = int(now)
        journal = item["idMessage"] != "C0FFEE00112233445566778899AABBCC"  # the one only the chat has
        if not journal:
            fake.chat_only.append(item)
        elif item["type"] == "incoming":
            fake.incoming.append(item)
        else:
            fake.outgoing.append(item)


def backfill(*args: str) -> str:
    out = io.StringIO()
    call_command("greenapi_backfill", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.parametrize("id_message", list(TWINS))
def test_a_history_message_reads_as_the_webhook_notification_of_it(id_message: str) -> None:
    item = everything()[id_message]
    webhook = payload(TWINS[id_message])
    from_history = message_columns(parse(as_notification(item, instance_id=1103123456, wid="77017654321@c.us")))
    from_webhook = message_columns(parse(webhook))
    # What the history does not carry (REFERENCE §15): a group's name, the name we send under.
    if item["type"] == "outgoing":
        from_webhook["sender_name"] = ""
    if item["chatId"].endswith("@g.us"):
        from_webhook["chat_name"] = ""
    assert from_history == from_webhook


@pytest.mark.django_db
def test_an_outage_seen_only_in_the_history_is_recovered_once(fake_greenapi, post_webhook) -> None:
    fill_history(fake_greenapi)
    arrived = payload("incomingMessageReceived.textMessage.json")  # the one the webhook did bring
    assert post_webhook(arrived).status_code == 200
    before = Message.objects.get(external_id=arrived["idMessage"])
    out = backfill("--minutes", "60")
    assert "recovered 6 the CRM did not have" in out
    assert Message.objects.count() == 7
    recovered = Message.objects.exclude(recovered_at=None)
    assert set(recovered.values_list("external_id", flat=True)) == set(everything()) - {arrived["idMessage"]}
    # Not changed: the webhook's row, and its client.
    after = Message.objects.get(external_id=arrived["idMessage"])
    assert (after.recovered_at, after.updated_at, after.client_id) == (None, before.updated_at, before.client_id)
    # Matched to their client as the webhook would: Анна's messages are hers, the group's the group's,
    # written by its participant.
    anna = Client.objects.get(whatsapp_id="79031234567")
    assert anna.messages.count() == 4
    in_group = Message.objects.get(external_id="3EB0A1C2D3E4F5061728")
    assert (in_group.client.whatsapp_group, in_group.author.whatsapp_id) == ("120363043968066561", "77079876543")
    assert Message.objects.get(external_id="BAE5F4886A9C1E21").status == "delivered"
    assert Message.objects.get(external_id="F7AEC1B7086ECDC7E6E45923F5EDB825").status == "read"
    assert "recovered 0" in backfill("--minutes", "60")
    assert Message.objects.count() == 7
    # The webhook bringing one of them late changes nothing either.
    late = payload("incomingMessageReceived.imageMessage.json")
    assert post_webhook(late).json()["duplicate"] is True
    assert Message.objects.count() == 7
    assert fake_greenapi.refused == []  # every getChatHistory waited its turn


@pytest.mark.django_db
def test_a_message_the_guide_cleared_is_not_brought_back(fake_greenapi, post_webhook) -> None:
    fill_history(fake_greenapi)
    for name in TWINS.values():
        post_webhook(payload(name))
    call_command("clear_whatsapp_messages", interactive=False, stdout=io.StringIO())
    backfill("--minutes", "60")
    assert list(Message.objects.values_list("external_id", flat=True)) == ["C0FFEE00112233445566778899AABBCC"]


@pytest.mark.django_db
def test_the_backfill_says_what_it_could_not_read(fake_greenapi) -> None:
    fill_history(fake_greenapi)
    fake_greenapi.fail_with = 502
    with pytest.raises(CommandError, match="could not be read"):
        backfill("--minutes", "60")
    with pytest.raises(CommandError, match="--minutes must be 1 to 1440"):
        backfill("--minutes", "0")


@pytest.mark.django_db
def test_a_crm_down_for_an_hour_has_that_hour_after_the_next_periodic_run(fake_greenapi, settings) -> None:
    settings.GREEN_API_BACKFILL_MINUTES = 5
    fill_history(fake_greenapi, minutes_ago=60)
    cache.set(LAST_RUN_KEY, {"at": (timezone.now() - timedelta(minutes=65)).isoformat(), "errors": []})
    assert window_minutes() in (68, 69)  # the hour and 5 minutes since, 3 more for the journal's lag
    assert jobs_schedule() == 1
    assert jobs_schedule() == 0  # one run waits, however many workers look
    run_jobs()
    assert Message.objects.exclude(recovered_at=None).count() == 7
    # The next run is scheduled by the one that ended, in GREEN_API_BACKFILL_MINUTES.
    waiting = DBTaskResult.objects.filter(status="READY", task_path="whatsapp.backfill.backfill_periodic")
    assert waiting.count() == 1
    assert waiting.get().run_after > timezone.now() + timedelta(minutes=4)
    make_jobs_due()
    run_jobs()
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 2
    assert window_minutes() == 5 + 3


@pytest.mark.django_db
def test_the_periodic_backfill_is_off_without_green_api(settings) -> None:
    settings.GREEN_API_ID_INSTANCE = ""
    assert jobs_schedule() == 0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_backfill_and_webhook_racing_on_the_same_messages_make_no_twins(fake_greenapi) -> None:
    fill_history(fake_greenapi)
    for round_ in range(4):  # more messages than the payloads: each of them in four chats' worth
        for item in list(fake_greenapi.incoming):
            if round_ and item["idMessage"] in TWINS:
                fake_greenapi.incoming.append({**item, "idMessage": f"{item['idMessage'][:20]}R{round_}"})
    server = Gunicorn(database_url(connection.settings_dict), GREEN_API_WEBHOOK_TOKEN="").start()
    try:
        notifications = [as_notification(item, instance_id=1103123456) for item in fake_greenapi.incoming]
        for body in notifications:
            body.pop("recoveredFrom")
            body.pop("historyMessage")

        def post_all() -> None:
            for body in notifications:
                data = json.dumps(body, ensure_ascii=False).encode()
                answer = requests.post(f"{server.url}/whatsapp/webhook", data=data, timeout=30)
                assert answer.status_code == 200

        posting = threading.Thread(target=post_all)
        posting.start()
        backfill("--minutes", "60")
        posting.join()
    finally:
        server.stop()
    ids = {item["idMessage"] for item in fake_greenapi.incoming + fake_greenapi.outgoing + fake_greenapi.chat_only}
    assert Message.objects.count() == len(ids)
    assert Message.objects.values("external_id").distinct().count() == len(ids)
    assert Notification.objects.values("dedupe_key").distinct().count() == Notification.objects.count()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_backfills_at_once_and_schedules_the_next_run(fake_greenapi) -> None:
    fill_history(fake_greenapi, minutes_ago=50)
    env = {**greenapi_env(fake_greenapi), "GREEN_API_BACKFILL_MINUTES": "5"}
    workers = [Worker(database_url(connection.settings_dict), **env).start() for _ in range(2)]
    try:
        deadline = time.monotonic() + 90
        while Message.objects.exclude(recovered_at=None).count() < 7 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # both workers have looked for a periodic run by now
    finally:
        outputs = [worker.output() for worker in workers]
        for worker in workers:
            worker.stop()
    assert Message.objects.exclude(recovered_at=None).count() == 7, outputs
    runs = DBTaskResult.objects.filter(task_path="whatsapp.backfill.backfill_periodic")
    assert runs.filter(status="SUCCESSFUL").count() == 1, "two workers started, one run"
    assert runs.filter(status="READY", run_after__gt=timezone.now() + timedelta(minutes=4)).count() == 1
    cache.delete(LAST_RUN_KEY)
