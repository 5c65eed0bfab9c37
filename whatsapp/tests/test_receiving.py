"""greenapi_receive: Green API's notification queue drained without a public URL, each notification
processed as the webhook processes it, deleted only once it is committed here."""

import io
import signal
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

from conftest import greenapi_env, needs_postgres, payload
from crm.testing.servers import database_url
from crm.testing.workers import Worker
from whatsapp.models import Message, Notification

another_process = needs_postgres("another process shares the test database")

MIXED = [
    "incomingMessageReceived.textMessage.json",
    "incomingMessageReceived.textMessage.group.json",
    "incomingMessageReceived.imageMessage.json",
    "outgoingAPIMessageReceived.textMessage.json",
    "outgoingMessageStatus.delivered.json",
    "stateInstanceChanged.authorized.json",
    "incomingCall.offer.json",
    "quotaExceeded.json",
]


def queue_mixed(fake) -> None:
    for name in MIXED:
        fake.enqueue(payload(name))
    fake.enqueue(payload("incomingMessageReceived.textMessage.json"))  # Green API giving one twice


def assert_stored_once() -> None:
    assert Notification.objects.count() == len(MIXED)
    # Each message notification made its one message; the repeat made none.
    assert Message.objects.count() == 4
    text = payload("incomingMessageReceived.textMessage.json")
    assert Notification.objects.get(id_message=text["idMessage"]).deliveries >= 2


def receive(**options: object) -> str:
    out = io.StringIO()
    call_command("greenapi_receive", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_a_queue_of_mixed_notifications_is_drained_once_and_emptied(fake_greenapi, caplog) -> None:
    queue_mixed(fake_greenapi)
    out = receive(once=True)
    assert fake_greenapi.queue == []
    assert len(fake_greenapi.deleted) == len(MIXED) + 1
    assert_stored_once()
    assert "Received 9 notification(s)" in out
    assert "1 already here" in out
    # The guide's log lines, as for a posted webhook.
    assert "📨 Received webhook from Green API" in caplog.text
    assert "Incoming message processed:" in caplog.text


@pytest.mark.django_db
def test_the_wrapper_payload_is_stored_as_its_notification(fake_greenapi) -> None:
    wrapper = payload("receiveNotification.response.json")
    fake_greenapi.enqueue(wrapper["body"])
    receive(once=True)
    message = Message.objects.get()
    assert message.external_id == wrapper["body"]["idMessage"]
    assert message.content.startswith("Здравствуйте!")
    assert Notification.objects.get().type_webhook == "incomingMessageReceived"


@pytest.mark.django_db
def test_a_body_the_webhook_would_refuse_is_kept_and_leaves_the_queue(fake_greenapi, settings) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 200  # smaller than the notification: the webhook answers 413
    fake_greenapi.enqueue(payload("incomingMessageReceived.textMessage.json"))
    fake_greenapi.enqueue(["not", "an", "object"])  # type: ignore[arg-type]
    receive(once=True)
    assert fake_greenapi.queue == []
    assert Message.objects.count() == 1  # not lost for being large
    assert Notification.objects.get(outcome="ignored").detail == "typeWebhook is missing"


@pytest.mark.django_db
def test_green_api_down_or_limiting_is_waited_out(fake_greenapi) -> None:
    fake_greenapi.enqueue(payload("incomingMessageReceived.textMessage.json"))
    fake_greenapi.fail_with = 429
    threading.Timer(1.5, lambda: setattr(fake_greenapi, "fail_with", 502)).start()
    threading.Timer(3.0, lambda: setattr(fake_greenapi, "fail_with", None)).start()
    receive(once=True)
    assert Message.objects.count() == 1
    assert fake_greenapi.queue == []


@another_process
@pytest.mark.django_db(transaction=True)
def test_a_crash_between_commit_and_delete_means_a_redelivery_never_a_loss(fake_greenapi) -> None:
    queue_mixed(fake_greenapi)
    env = {**greenapi_env(fake_greenapi), "GREEN_API_RECEIVE": "poll"}
    receiver = Worker(database_url(connection.settings_dict), process="receive", args="--once", **env)
    crashed = threading.Event()

    def crash(receipt: int) -> bool:
        # The notification is committed (answer() said 200); the process dies before it deletes.
        if not crashed.is_set():
            crashed.set()
            receiver.kill()
        return False

    fake_greenapi.before_delete = crash
    receiver.start()
    assert crashed.wait(60), receiver.output()
    receiver.stop()
    assert len(fake_greenapi.queue) == len(MIXED) + 1  # nothing was deleted
    first = payload(MIXED[0])
    assert Notification.objects.filter(id_message=first["idMessage"]).exists()

    fake_greenapi.before_delete = None
    again = Worker(database_url(connection.settings_dict), process="receive", args="--once", **env).start()
    assert again.wait() == 0, again.output()
    again.stop()
    assert fake_greenapi.queue == []
    assert_stored_once()


@another_process
@pytest.mark.django_db(transaction=True)
def test_two_receivers_at_once_store_each_notification_once(threaded_greenapi) -> None:
    for round_ in range(3):
        for name in MIXED:
            body = payload(name)
            if "idMessage" in body:
                body["idMessage"] = f"{body['idMessage'][:20]}R{round_}"
            threaded_greenapi.enqueue(body)
    env = {**greenapi_env(threaded_greenapi), "GREEN_API_RECEIVE": "poll"}
    url = database_url(connection.settings_dict)
    receivers = [Worker(url, process="receive", args="--once", **env).start() for _ in range(2)]
    for receiver in receivers:
        assert receiver.wait(120) == 0, receiver.output()
        receiver.stop()
    assert threaded_greenapi.queue == []
    assert threaded_greenapi.refused == []  # the shared limiter kept both within Green API's limits
    with_id = [name for name in MIXED if "idMessage" in payload(name)]
    # Three rounds of those with an idMessage; the others are the same body each round (one row).
    assert Notification.objects.count() == 3 * len(with_id) + len(MIXED) - len(with_id)
    assert Message.objects.count() == 3 * 4
    assert Message.objects.values("external_id").distinct().count() == 3 * 4


@another_process
@pytest.mark.django_db(transaction=True)
def test_sigterm_ends_the_receiver_cleanly(fake_greenapi) -> None:
    env = {**greenapi_env(fake_greenapi), "GREEN_API_RECEIVE": "poll"}
    receiver = Worker(database_url(connection.settings_dict), process="receive", **env).start()
    deadline = time.monotonic() + 60
    while "Receiving notifications" not in receiver.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    fake_greenapi.enqueue(payload("incomingMessageReceived.textMessage.json"))
    while not fake_greenapi.deleted and time.monotonic() < deadline:
        time.sleep(0.2)
    receiver.signal(signal.SIGTERM)
    assert receiver.wait(30) == 0, receiver.output()
    output = receiver.output()
    receiver.stop()
    assert "Received 1 notification(s): 1 processed." in output
    assert Message.objects.count() == 1


@another_process
@pytest.mark.django_db(transaction=True)
def test_the_procfile_line_waits_doing_nothing_unless_polling_is_chosen(fake_greenapi) -> None:
    fake_greenapi.enqueue(payload("incomingMessageReceived.textMessage.json"))
    receiver = Worker(database_url(connection.settings_dict), process="receive", **greenapi_env(fake_greenapi))
    receiver.start()
    deadline = time.monotonic() + 60
    while "waits doing nothing" not in receiver.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    receiver.signal(signal.SIGTERM)
    assert receiver.wait(30) == 0, receiver.output()
    receiver.stop()
    assert fake_greenapi.calls == {}
    assert len(fake_greenapi.queue) == 1
