"""Numbers written at the same moment by the webhook and by staff, against PostgreSQL over real
HTTP: the unique row per number decides, never a SELECT before the write."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from clients.models import Client, ClientNumber
from clients.services import client_find_or_create_by_phone
from clients.tests.forms import client_form
from conftest import payload, postgres_only
from whatsapp.models import Message

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

THREADS = 12


def incoming(number: str, id_message: str) -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = id_message
    body["senderData"]["chatId"] = body["senderData"]["sender"] = f"{number}@c.us"
    return body


def post(url: str, body: dict) -> int:
    data = json.dumps(body, ensure_ascii=False).encode()
    return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=30).status_code


def wait_until_someone_waits_for_a_lock(timeout: float = 10.0) -> None:
    """Until another session is blocked on a lock (here: the number row being written)."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"], autocommit=True
    ) as observer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                [settings["NAME"]],
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.05)


@pytest.mark.parametrize("fast", [False, True], ids=["general", "fast"])
def test_messages_from_two_new_numbers_at_once_make_one_client_each(live_server, settings, fast) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    numbers = ["79161234567", "79031234567"]
    bodies = [incoming(numbers[i % 2], f"RACE{i:028d}") for i in range(THREADS * 3)]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(lambda body: post(f"{live_server.url}/whatsapp/webhook", body), bodies))
    assert statuses == [200] * len(bodies)
    assert sorted(Client.objects.values_list("whatsapp_id", flat=True)) == sorted(numbers)
    assert sorted(ClientNumber.objects.values_list("value", "source")) == sorted((n, "webhook") for n in numbers)
    assert Message.objects.count() == len(bodies)


@pytest.mark.parametrize("fast", [False, True], ids=["general", "fast"])
def test_a_number_staff_are_adding_while_its_first_message_arrives_gets_the_message(live_server, settings, fast):
    settings.WEBHOOK_FAST_PATH = fast
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    statuses: list[int] = []
    with transaction.atomic():
        # The admin's save, not committed yet: the webhook finds no client with this number, tries
        # to create one, and waits on the number's row.
        ClientNumber.objects.create(client=anna, value="79031234567")
        webhook = threading.Thread(
            target=lambda: statuses.append(post(f"{live_server.url}/whatsapp/webhook", incoming("79031234567", "X1")))
        )
        webhook.start()
        wait_until_someone_waits_for_a_lock()
    webhook.join(30)
    assert statuses == [200]
    assert list(Client.objects.all()) == [anna], "no twin"
    assert Message.objects.get().client == anna


def test_a_number_staff_add_while_the_webhook_is_creating_its_client_is_refused_with_its_name(client) -> None:
    """The other order: the webhook's transaction is creating the client; the admin's check waits
    for it, then names that client (no 500 from the constraint)."""
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="pw"))
    answers = []

    def save_in_admin() -> None:
        form = client_form(name="Анна", whatsapp_id="79991234567", numbers=[("phone", "79031234567")])
        try:
            answers.append(client.post(f"/admin/clients/client/{anna.pk}/change/", form))
        finally:
            connection.close()

    with transaction.atomic():
        stranger, created = client_find_or_create_by_phone(phone="79031234567", name="Незнакомец")
        admin = threading.Thread(target=save_in_admin)
        admin.start()
        wait_until_someone_waits_for_a_lock()
    admin.join(30)
    assert created
    assert answers[0].status_code == 200
    assert "Незнакомец</a> already has the WhatsApp number +7 903 123-45-67" in answers[0].content.decode()
    assert ClientNumber.objects.get(value="79031234567").client == stranger


def test_two_clients_given_the_same_new_number_at_once_cannot_both_have_it(live_server) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    petr = Client.objects.create(name="Пётр", whatsapp_id="79161234567")
    outcomes: list[str] = []

    def add_to_petr() -> None:
        try:
            with transaction.atomic():
                ClientNumber.objects.create(client=petr, value="79031234567")
            outcomes.append("added")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    with transaction.atomic():
        ClientNumber.objects.create(client=anna, value="79031234567")
        other = threading.Thread(target=add_to_petr)
        other.start()
        wait_until_someone_waits_for_a_lock()
    other.join(30)
    assert outcomes == ["refused"]
    assert ClientNumber.objects.get(value="79031234567").client == anna


def test_a_main_number_set_while_another_client_takes_it_as_an_extra_cannot_be_both(live_server) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    petr = Client.objects.create(name="Пётр")
    outcomes: list[str] = []

    def make_it_petrs_main() -> None:
        try:
            with transaction.atomic():
                Client.objects.filter(pk=petr.pk).update(whatsapp_id="79031234567")
            outcomes.append("set")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    with transaction.atomic():
        ClientNumber.objects.create(client=anna, value="79031234567")
        other = threading.Thread(target=make_it_petrs_main)
        other.start()
        wait_until_someone_waits_for_a_lock()
    other.join(30)
    assert outcomes == ["refused"]
    petr.refresh_from_db()
    assert petr.whatsapp_id is None
