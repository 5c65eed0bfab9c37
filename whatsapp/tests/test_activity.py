"""Each client's stored activity (last message, counts, unread) stays what the messages say, whoever writes them."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection, connections, transaction
from django.utils import timezone

from clients.models import Client, ClientActivity
from clients.services import client_merge
from conftest import needs_postgres, payload, postgres_only
from whatsapp.cleanup import messages_clear
from whatsapp.models import CONVERSATION_ORDER, Message

ACTIVITY = ["message_count", "inbound_count", "unread_count", "last_message_id", "last_direction", "last_preview"]


def recounted(client: Client) -> dict:
    """What the stored columns must say, counted from the messages themselves."""
    messages = Message.objects.filter(client=client)
    latest = messages.order_by(*CONVERSATION_ORDER).first()
    inbound = messages.filter(direction="inbound")
    if client.activity.read_until:
        unread = inbound.filter(created_at__gt=client.activity.read_until)
    else:
        unread = inbound
    return {
        "message_count": messages.count(),
        "inbound_count": inbound.count(),
        "unread_count": unread.count(),
        "last_message_id": latest.pk if latest else None,
        "last_direction": latest.direction if latest else "",
        "last_preview": (latest.content or latest.type_message)[:100] if latest else "",
    }


def assert_activity_right(*clients: Client) -> None:
    for client in clients:
        client.refresh_from_db()
        assert {field: getattr(client.activity, field) for field in ACTIVITY} == recounted(client), client


def incoming(i: int, text: str = "Привет") -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = f"ACT{i:029d}"
    body["timestamp"] = 1763900000 + i
    body["messageData"]["textMessageData"]["textMessage"] = f"{text} {i}"
    return body


@needs_postgres("a row's place (ctid) is PostgreSQL's")
@pytest.mark.django_db
@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "ORM path"])
def test_a_message_writes_the_clients_activity_row_and_leaves_the_clients_own_alone(
    post_webhook, settings, fast: bool
) -> None:
    """The client's row, with its name, phone and number indexes, is not rewritten by every message
    (clients/migrations/0008): an UPDATE puts a row's new version elsewhere, so its ctid moves."""
    settings.WEBHOOK_FAST_PATH = fast
    assert post_webhook(incoming(1)).status_code == 200
    client = Client.objects.get()

    def places() -> tuple[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.ctid::text, a.ctid::text FROM clients AS c JOIN client_activity AS a ON a.client_id = c.id "
                "WHERE c.id = %s",
                [client.pk],
            )
            return cursor.fetchone()

    before = places()
    assert post_webhook(incoming(2)).status_code == 200
    after = places()
    assert after[0] == before[0], "the client's own row was rewritten by a message"
    assert after[1] != before[1]
    assert_activity_right(client)


@pytest.mark.django_db
@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "ORM path"])
def test_every_delivered_message_counts_and_the_latest_is_shown(post_webhook, settings, fast: bool) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    for i in (3, 1, 2):  # WhatsApp's times out of order: the latest by time wins, not the last to arrive
        assert post_webhook(incoming(i)).status_code == 200
    client = Client.objects.get()
    assert_activity_right(client)
    assert (client.activity.message_count, client.activity.unread_count, client.activity.last_preview) == (
        3,
        3,
        "Привет 3",
    )
    assert client.activity.last_message_at == Message.objects.get(content="Привет 3").sent_at


@pytest.mark.django_db
def test_a_send_is_the_latest_and_not_unread(fake_greenapi) -> None:
    from whatsapp.outbound import message_send

    client = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    Message.objects.create(client=client, direction="inbound", content="Здравствуйте")
    message_send(client=client, text="Добрый день!")
    assert_activity_right(client)
    assert (client.activity.last_direction, client.activity.last_preview, client.activity.unread_count) == (
        "outbound",
        "Добрый день!",
        1,
    )


@pytest.mark.django_db
def test_messages_read_up_to_a_time_are_not_unread() -> None:
    client = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    Message.objects.create(client=client, direction="inbound", content="старое")
    ClientActivity.objects.filter(pk=client.pk).update(read_until=timezone.now(), unread_count=0)
    Message.objects.create(client=client, direction="inbound", content="новое")
    assert_activity_right(client)
    assert client.activity.unread_count == 1


@pytest.mark.django_db
def test_deleting_the_latest_shows_the_one_before_and_deleting_all_empties() -> None:
    client = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    first = Message.objects.create(client=client, direction="inbound", content="первое")
    Message.objects.create(client=client, direction="outbound", content="второе", sent_at=first.sent_at)
    Message.objects.filter(content="второе").delete()
    assert_activity_right(client)
    assert client.activity.last_preview == "первое"
    Message.objects.all().delete()
    assert_activity_right(client)
    assert (client.activity.message_count, client.activity.last_message_at) == (0, None)


@pytest.mark.django_db
def test_the_guides_raw_delete_and_the_clean_up_command_empty_every_client() -> None:
    clients = [Client.objects.create(whatsapp_id=f"7999123456{i}") for i in range(3)]
    for client in clients:
        Message.objects.bulk_create([Message(client=client, direction="inbound", content=str(n)) for n in range(4)])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM messages WHERE channel = 'whatsapp'")
    assert_activity_right(*clients)
    Message.objects.bulk_create([Message(client=c, direction="outbound", content="снова") for c in clients])
    assert_activity_right(*clients)
    messages_clear(batch_size=1)
    assert_activity_right(*clients)


@pytest.mark.django_db
def test_an_edit_of_the_latest_changes_its_preview(post_webhook) -> None:
    client = Client.objects.create(whatsapp_id="79991234567")
    message = Message.objects.create(client=client, direction="inbound", content="опечатка")
    message.edit("исправлено", timezone.now())
    message.save()
    assert_activity_right(client)
    assert client.activity.last_preview == "исправлено"


@pytest.mark.django_db
def test_a_merge_adds_the_twins_activity_to_the_client_kept() -> None:
    keep = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    twin = Client.objects.create(name="Аня", whatsapp_id="79991234568")
    Message.objects.create(client=keep, direction="inbound", content="раньше", sent_at=timezone.now())
    Message.objects.create(client=twin, direction="inbound", content="позже", sent_at=timezone.now())
    with transaction.atomic():
        client_merge(keep=keep, others=[twin])
    assert_activity_right(keep)
    assert (keep.activity.message_count, keep.activity.last_preview) == (2, "позже")


THREADS = 12


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_to_one_client_lose_no_count(live_server) -> None:
    Client.objects.create(name="Горячий", whatsapp_id="79031234567")
    bodies = [incoming(i) for i in range(THREADS * 4)]

    def post(body: dict) -> int:
        data = json.dumps(body, ensure_ascii=False).encode()
        url = f"{live_server.url}/whatsapp/webhook"
        return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        assert list(pool.map(post, bodies)) == [200] * len(bodies)
    client = Client.objects.get()
    assert_activity_right(client)
    assert (client.activity.message_count, client.activity.last_preview) == (len(bodies), f"Привет {len(bodies) - 1}")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_statements_over_several_clients_at_once_never_deadlock() -> None:
    """Each statement touches both clients, in opposite orders: the triggers lock them in one order."""
    pair = [Client.objects.create(whatsapp_id=f"7900123456{i}") for i in range(2)]
    for client in pair:
        Message.objects.bulk_create([Message(client=client, direction="inbound", content="x") for _ in range(5)])
    errors: list[Exception] = []
    start = threading.Barrier(THREADS)

    def work(n: int) -> None:
        first, second = pair if n % 2 else pair[::-1]
        try:
            start.wait()
            for round_ in range(5):
                with transaction.atomic():
                    Message.objects.bulk_create(
                        [Message(client=c, direction="inbound", content=f"{n}.{round_}") for c in (first, second)]
                    )
                    Message.objects.filter(client=second, content=f"{n}.{round_}").update(content=f"{n}.{round_}!")
                    Message.objects.filter(client__in=pair, content=f"{n}.{round_}!").delete()
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_activity_right(*pair)


@pytest.mark.django_db
def test_a_clean_up_inside_a_transaction_leaves_what_is_deleted_after_it_to_the_triggers() -> None:
    """The clean-up turns the delete trigger's work off for itself only, never for what follows."""
    client = Client.objects.create(whatsapp_id="79991234567")
    Message.objects.bulk_create([Message(client=client, direction="inbound", content=str(n)) for n in range(3)])
    Message.objects.create(client=client, channel="email", direction="inbound", content="письмо")
    with transaction.atomic():
        messages_clear(batch_size=1)
        assert_activity_right(client)
        assert (client.activity.message_count, client.activity.last_preview) == (1, "письмо")
        Message.objects.create(client=client, direction="outbound", content="снова")
        Message.objects.filter(channel="email").delete()
        assert_activity_right(client)
        assert (client.activity.message_count, client.activity.last_preview) == (1, "снова")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_deliveries_during_the_clean_up_are_counted_after_its_recount(live_server) -> None:
    """The clean-up recounts its clients once at the end; what arrives meanwhile is counted once."""
    known = [Client.objects.create(whatsapp_id=f"7999123456{i}") for i in range(3)]
    ClientActivity.objects.filter(pk=known[0].pk).update(read_until=timezone.now())
    for client in known:
        Message.objects.bulk_create([Message(client=client, direction="inbound", content=str(n)) for n in range(200)])
    Message.objects.create(client=known[1], channel="email", direction="inbound", content="письмо")
    hot = Client.objects.create(name="Горячий", whatsapp_id="79031234567")
    start = threading.Barrier(2)

    def deliver() -> list[int]:
        start.wait()
        url = f"{live_server.url}/whatsapp/webhook"
        return [
            requests.post(url, data=json.dumps(incoming(i), ensure_ascii=False).encode(), timeout=30).status_code
            for i in range(THREADS * 2)
        ]

    with ThreadPoolExecutor(max_workers=1) as pool:
        delivered = pool.submit(deliver)
        start.wait()
        messages_clear(batch_size=1)
        assert delivered.result() == [200] * THREADS * 2
    connections.close_all()
    assert_activity_right(*known, hot)
    assert known[1].activity.last_preview == "письмо"
