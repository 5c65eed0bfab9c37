"""Business hours: outside an instance's opening hours a client who writes gets one automatic reply per
chat per day, stored first and sent through Green API (the local stand-in) by the worker's job; both
write paths, never for our own messages, statuses, redeliveries, late messages or the backfill."""

import json
import threading
import time
from datetime import UTC, datetime
from datetime import time as clock

import pytest
import requests
from django.db import connection
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from clients.models import Client
from conftest import grant, payload, postgres_only, run_jobs
from whatsapp.hours import Hours, auto_reply_send, hours_forget
from whatsapp.models import AutoReply, Instance, Message, OpeningHours
from whatsapp.tests.test_backfill import backfill, fill_history

INSTANCE = 1103123456  # the payloads' instance, and the fake Green API's
TEXT = "Здравствуйте, {client_name}! Мы откроемся в 9:00 и сразу ответим."
PATHS = pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "general way"])


@pytest.fixture
def closed(db) -> Instance:
    """Automatic replies on; no opening hours at all, so closed now, whenever the test runs."""
    instance = Instance.objects.create(
        id_instance=INSTANCE, time_zone="Europe/Moscow", auto_reply_enabled=True, auto_reply_text=TEXT
    )
    hours_forget()
    return instance


def open_all_day(instance: Instance) -> None:
    for weekday in range(7):
        OpeningHours.objects.create(instance=instance, weekday=weekday, opens=clock(0), closes=clock(0))
    hours_forget()


def message(n: int = 0, *, chat: str = "79031234567@c.us", at: float | None = None) -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = f"HOURS{n:027d}"
    body["timestamp"] = int(at if at is not None else time.time())
    body["senderData"]["chatId"] = body["senderData"]["sender"] = chat
    return body


def sent_texts(fake) -> list[tuple[str, str]]:
    return [(s["chatId"], s["message"]) for s in fake.sent]


# -------------------------------------------------------------------------------------------------
# The reply.


@pytest.mark.django_db
@PATHS
def test_outside_opening_hours_the_client_gets_one_automatic_reply_a_day(
    post_webhook, fake_greenapi, closed, settings, fast_path: bool
) -> None:
    settings.WEBHOOK_FAST_PATH = fast_path
    assert post_webhook(message(1)).status_code == 200
    assert post_webhook(message(2)).status_code == 200
    assert fake_greenapi.sent == []  # not in the webhook's request: the worker sends it
    run_jobs()
    assert sent_texts(fake_greenapi) == [
        ("79031234567@c.us", "Здравствуйте, Анна Смирнова (клиент)! Мы откроемся в 9:00 и сразу ответим.")
    ]
    assert post_webhook(message(3)).status_code == 200
    run_jobs()
    assert len(fake_greenapi.sent) == 1, "once per chat per day"
    reply = AutoReply.objects.get()
    ours = Message.objects.get(direction="outbound")
    assert (reply.message, reply.chat_id, ours.status, ours.external_id) == (
        ours,
        "79031234567@c.us",
        "sent",
        fake_greenapi.sent[0]["idMessage"],
    )
    assert reply.day == datetime.now(closed.zone).date()
    assert Message.objects.filter(direction="inbound").count() == 3


@pytest.mark.django_db
@PATHS
def test_a_second_chat_gets_its_own_reply_and_a_group_none(
    post_webhook, fake_greenapi, closed, settings, fast_path
) -> None:
    settings.WEBHOOK_FAST_PATH = fast_path
    post_webhook(message(1))
    post_webhook(message(2, chat="79990001122@c.us"))
    group = payload("incomingMessageReceived.textMessage.group.json")
    group["timestamp"] = int(time.time())
    post_webhook(group)
    run_jobs()
    assert sorted(chat for chat, _ in sent_texts(fake_greenapi)) == ["79031234567@c.us", "79990001122@c.us"]


@pytest.mark.django_db
@PATHS
def test_within_opening_hours_or_when_off_there_is_no_reply(
    post_webhook, fake_greenapi, closed, settings, fast_path
) -> None:
    settings.WEBHOOK_FAST_PATH = fast_path
    open_all_day(closed)
    post_webhook(message(1))
    Instance.objects.filter(pk=INSTANCE).update(auto_reply_enabled=False)
    OpeningHours.objects.all().delete()
    hours_forget()
    post_webhook(message(2))
    run_jobs()
    assert fake_greenapi.sent == []
    assert not AutoReply.objects.exists()


@pytest.mark.django_db
def test_it_is_off_by_default(post_webhook, fake_greenapi) -> None:
    post_webhook(message(1))
    run_jobs()
    assert fake_greenapi.sent == []
    assert not AutoReply.objects.exists()
    assert Instance._meta.get_field("auto_reply_enabled").default is False


@pytest.mark.django_db
@PATHS
def test_our_messages_statuses_redeliveries_and_late_messages_get_no_reply(
    post_webhook, fake_greenapi, closed, settings, fast_path
) -> None:
    settings.WEBHOOK_FAST_PATH = fast_path
    for name in ["outgoingMessageReceived.textMessage.json", "outgoingAPIMessageReceived.textMessage.json"]:
        body = payload(name)
        body["timestamp"] = int(time.time())
        assert post_webhook(body).status_code == 200
    status = payload("outgoingMessageStatus.delivered.json")
    status["timestamp"] = int(time.time())
    post_webhook(status)
    post_webhook(message(1, at=time.time() - 3 * 3600))  # Green API's queue after an outage, or a replay
    run_jobs()
    assert fake_greenapi.sent == []
    assert not AutoReply.objects.exists()
    # A redelivery of a message stored while the reply was off.
    Instance.objects.filter(pk=INSTANCE).update(auto_reply_enabled=False)
    hours_forget()
    first = message(2)
    post_webhook(first)
    Instance.objects.filter(pk=INSTANCE).update(auto_reply_enabled=True)
    hours_forget()
    assert post_webhook(first).json()["duplicate"] is True
    run_jobs()
    assert fake_greenapi.sent == []
    assert not AutoReply.objects.exists()


@pytest.mark.django_db
def test_what_the_backfill_recovers_gets_no_reply(fake_greenapi, closed, no_backfill_yet) -> None:
    fill_history(fake_greenapi, minutes_ago=1)
    assert "recovered 7" in backfill("--minutes", "60")
    run_jobs()
    assert not AutoReply.objects.exists()
    assert Message.objects.filter(direction="outbound", recovered_at=None).count() == 0


@pytest.mark.django_db
def test_the_reply_is_stored_before_it_goes_and_never_twice(post_webhook, fake_greenapi, closed) -> None:
    fake_greenapi.fail_with = 466
    post_webhook(message(1))
    run_jobs()
    ours = Message.objects.get(direction="outbound")
    assert ours.status == "failed"
    assert "quota" in ours.status_description
    fake_greenapi.fail_with = None
    auto_reply_send.call(auto_reply_id=AutoReply.objects.get().pk)  # run again, by a retry or by hand
    assert Message.objects.filter(direction="outbound").count() == 1
    assert fake_greenapi.sent == []
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@pytest.mark.django_db
def test_the_automatic_reply_is_marked_in_the_thread(client, post_webhook, fake_greenapi, closed) -> None:
    post_webhook(message(1))
    run_jobs()
    anna = Client.objects.get(whatsapp_id="79031234567")
    client.force_login(User.objects.create_superuser(email="root@example.com", password="pw"))
    html = client.get(reverse("admin:clients_client_change", args=[anna.pk])).content.decode()
    assert html.count("🤖 automatic reply") == 1
    assert "Мы откроемся в 9:00" in html


# -------------------------------------------------------------------------------------------------
# Hours and days in the instance's time zone.


def test_opening_hours_are_read_in_the_instances_time_zone() -> None:
    from zoneinfo import ZoneInfo

    hours = Hours(ZoneInfo("Asia/Almaty"), "", {0: ((clock(9), clock(18)),), 5: ((clock(10), clock(0)),)})
    monday_morning = datetime(2026, 11, 30, 3, 59, tzinfo=UTC)  # 08:59 in Almaty (UTC+5)
    assert not hours.open_at(monday_morning)
    assert hours.open_at(monday_morning.replace(minute=0, hour=4))  # 09:00
    assert not hours.open_at(datetime(2026, 11, 30, 13, 0, tzinfo=UTC))  # 18:00: closed
    assert not hours.open_at(datetime(2026, 12, 1, 6, 0, tzinfo=UTC))  # Tuesday: no hours
    assert hours.open_at(datetime(2026, 12, 5, 18, 59, tzinfo=UTC))  # Saturday 23:59, open until midnight
    # The day is Almaty's: 20:00 UTC on Monday is already Tuesday there.
    assert str(hours.day_of(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))) == "2026-12-01"


@pytest.mark.django_db
def test_staff_set_the_hours_in_the_instances_admin_page(client, settings) -> None:
    instance = Instance.objects.create(id_instance=INSTANCE, state="authorized")
    url = reverse("admin:whatsapp_instance_change", args=[INSTANCE])
    form = {
        "time_zone": "Mars/Olympus",
        "auto_reply_enabled": "on",
        "auto_reply_text": "",
        "opening_hours-TOTAL_FORMS": "1",
        "opening_hours-INITIAL_FORMS": "0",
        "opening_hours-0-weekday": "0",
        "opening_hours-0-opens": "18:00",
        "opening_hours-0-closes": "09:00",
    }
    viewer = grant(
        User.objects.create_user(email="v@example.com", password="pw", is_staff=True), "whatsapp.view_instance"
    )
    client.force_login(viewer)
    assert client.post(url, {**form, "time_zone": "UTC", "auto_reply_text": "x"}).status_code == 403
    client.force_login(User.objects.create_superuser(email="root@example.com", password="pw"))
    page = client.post(url, form).content.decode()
    assert "is not a time zone" in page
    assert "Write the automatic reply, or turn it off." in page
    assert "Closes after it opens" in page
    page = client.post(url, {**form, "time_zone": "UTC", "auto_reply_text": "Hi {agent_name}"}).content.decode()
    assert "Unknown placeholder {agent_name}: use {client_name}." in page
    form = {**form, "time_zone": "Europe/Moscow", "auto_reply_text": "Закрыто", "opening_hours-0-closes": "00:00"}
    assert client.post(url, form).status_code == 302
    instance.refresh_from_db()
    assert (instance.time_zone, instance.auto_reply_enabled, instance.state) == ("Europe/Moscow", True, "authorized")
    assert [str(h) for h in instance.opening_hours.all()] == ["Monday 18:00–00:00"]


# -------------------------------------------------------------------------------------------------
# At once.


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "general way"])
def test_messages_arriving_at_once_send_one_automatic_reply(live_server, fake_greenapi, settings, fast_path) -> None:
    settings.WEBHOOK_FAST_PATH = fast_path
    Instance.objects.create(id_instance=INSTANCE, auto_reply_enabled=True, auto_reply_text=TEXT)
    Client.objects.create(name="Анна", whatsapp_id="79031234567")
    hours_forget()
    bodies = [json.dumps(message(i), ensure_ascii=False).encode() for i in range(12)]
    start = threading.Barrier(len(bodies))

    def post(body: bytes) -> None:
        start.wait()
        answer = requests.post(
            f"{live_server.url}/whatsapp/webhook", data=body, timeout=30, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 200

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Message.objects.filter(direction="inbound").count() == len(bodies)
    assert AutoReply.objects.count() == 1
    connection.close()
    run_jobs()
    assert len(fake_greenapi.sent) == 1
