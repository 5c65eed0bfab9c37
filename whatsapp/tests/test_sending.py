"""Replying: the Green API client, message_send, POST /whatsapp/messages, and the round trip.

Green API is a real HTTP server on localhost (crm/testing/greenapi_fake.py), never a patched function.
"""

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import requests
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from clients.models import Client
from crm.testing.servers import ROOT, Gunicorn, database_url
from whatsapp.greenapi import GreenAPI, GreenAPIError, GreenAPINotConfigured
from whatsapp.models import Message
from whatsapp.outbound import message_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna() -> Client:
    return Client.objects.create(name="Анна", whatsapp_id="79031234567")


def test_send_stores_the_message_with_green_apis_id_and_sent(fake_greenapi, anna) -> None:
    message = message_send(client=anna, text="Здравствуйте! Заказ в пути 🚚")
    assert fake_greenapi.sent == [
        {"chatId": "79031234567@c.us", "message": "Здравствуйте! Заказ в пути 🚚", "idMessage": message.external_id}
    ]
    message.refresh_from_db()
    assert (message.status, message.direction, message.instance_id) == ("sent", "outbound", 1103123456)


@pytest.mark.parametrize(
    ("fail_with", "words"),
    [
        (429, "rate limit"),
        (466, "quota is used up (466): Monthly quota has been exceeded"),
        (500, "failed on sendMessage (500)"),
        (502, "failed on sendMessage (502)"),
    ],
)
def test_green_api_failures_mark_the_message_failed_with_a_readable_reason(
    fake_greenapi, anna, fail_with: int, words: str
) -> None:
    fake_greenapi.fail_with = fail_with
    with pytest.raises(GreenAPIError, match=words.replace("(", r"\(").replace(")", r"\)")) as raised:
        message_send(client=anna, text="Привет")
    assert raised.value.status == fail_with
    message = Message.objects.get()
    assert message.status == "failed"
    assert words.split(" (")[0] in message.status_description
    assert message.external_id is None


def test_bad_token_and_bad_instance_say_which_setting_to_check(fake_greenapi, anna, settings) -> None:
    settings.GREEN_API_TOKEN = "wrong"
    with pytest.raises(GreenAPIError, match="check GREEN_API_TOKEN") as raised:
        message_send(client=anna, text="x")
    assert "wrong" not in str(raised.value), "the token never appears in messages"
    settings.GREEN_API_TOKEN = fake_greenapi.token
    settings.GREEN_API_ID_INSTANCE = "999"
    with pytest.raises(GreenAPIError, match="check GREEN_API_ID_INSTANCE"):
        message_send(client=anna, text="x")


def test_a_slow_green_api_times_out_and_the_message_is_kept_as_failed(fake_greenapi, anna, settings) -> None:
    settings.GREEN_API_TIMEOUT = 0.3
    fake_greenapi.delay = 1.0
    with pytest.raises(GreenAPIError, match=r"did not answer sendMessage within 0\.3 s"):
        message_send(client=anna, text="Алло")
    assert Message.objects.get().status == "failed"


def test_unreachable_green_api_is_reported_without_the_token(anna, settings) -> None:
    settings.GREEN_API_URL, settings.GREEN_API_ID_INSTANCE, settings.GREEN_API_TOKEN = (
        "http://127.0.0.1:9",
        "1",
        "s3cr3t",
    )
    with pytest.raises(GreenAPIError, match=r"Cannot reach Green API at http://127\.0\.0\.1:9") as raised:
        message_send(client=anna, text="x")
    assert "s3cr3t" not in str(raised.value)


def test_missing_settings_are_named(anna, settings) -> None:
    settings.GREEN_API_ID_INSTANCE, settings.GREEN_API_TOKEN = "", ""
    with pytest.raises(GreenAPINotConfigured, match="set GREEN_API_ID_INSTANCE, GREEN_API_TOKEN"):
        GreenAPI.from_settings()
    with pytest.raises(GreenAPINotConfigured):
        message_send(client=anna, text="x")
    assert not Message.objects.exists()


def test_send_then_webhooks_then_statuses_end_in_one_read_message(fake_greenapi, anna, post_webhook) -> None:
    message = message_send(client=anna, text="Ваш заказ доставлен?")
    sent = fake_greenapi.sent[0]
    assert post_webhook(fake_greenapi.outgoing_api_notification(sent)).status_code == 200
    for status in ["sent", "delivered", "read"]:
        assert post_webhook(fake_greenapi.status_notification(sent, status)).status_code == 200
    assert Message.objects.count() == 1
    message.refresh_from_db()
    assert message.status == "read"
    assert message.notification is None or message.notification.type_webhook == "outgoingAPIMessageReceived"


@pytest.mark.parametrize("fast", [False, True])
def test_our_sent_message_takes_whatsapps_time_when_green_api_reports_it(
    fake_greenapi, anna, post_webhook, settings, fast
) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    message = message_send(client=anna, text="Ваш заказ доставлен?")
    report = fake_greenapi.outgoing_api_notification(fake_greenapi.sent[0])
    report["timestamp"] = 1764590000  # WhatsApp's time, a while before the CRM stored the row
    assert post_webhook(report).status_code == 200
    message.refresh_from_db()
    assert message.sent_at == datetime.fromtimestamp(1764590000, tz=UTC)


@pytest.mark.django_db(transaction=True)
def test_a_status_before_green_apis_answer_is_applied(fake_greenapi, live_server) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79031234567")

    def status_first(id_message: str) -> None:
        status = fake_greenapi.status_notification({"chatId": "79031234567@c.us", "idMessage": id_message}, "delivered")
        assert (
            requests.post(f"{live_server.url}/whatsapp/webhook", json=status, timeout=10).json()["outcome"] == "waiting"
        )

    fake_greenapi.before_answer = status_first
    message = message_send(client=anna, text="Быстрый ответ")
    assert message.status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_webhook_processed_before_green_apis_answer_still_makes_one_message(fake_greenapi, live_server) -> None:
    """Green API may post outgoingAPIMessageReceived before our sendMessage call has its answer."""
    anna = Client.objects.create(name="Анна", whatsapp_id="79031234567")

    def webhook_first(id_message: str) -> None:
        sent = {"chatId": "79031234567@c.us", "message": "Гонка", "idMessage": id_message}
        answer = requests.post(
            f"{live_server.url}/whatsapp/webhook", json=fake_greenapi.outgoing_api_notification(sent), timeout=10
        )
        assert answer.status_code == 200

    fake_greenapi.before_answer = webhook_first
    message = message_send(client=anna, text="Гонка")
    assert Message.objects.count() == 1
    assert Message.objects.get().pk == message.pk
    assert message.external_id == fake_greenapi.sent[0]["idMessage"]


def test_lid_only_client_is_sent_to_its_lid_and_a_client_without_whatsapp_is_refused(fake_greenapi) -> None:
    lid = Client.objects.create(name="LID", whatsapp_lid="120650379300963")
    message_send(client=lid, text="hi")
    assert fake_greenapi.sent[0]["chatId"] == "120650379300963@lid"
    nobody = Client.objects.create(name="No WhatsApp")
    with pytest.raises(GreenAPIError, match="has no WhatsApp number"):
        message_send(client=nobody, text="hi")


# ---------------------------------------------------------------------------------------------
# POST /whatsapp/messages


def test_api_sends_to_a_client_by_id(api, fake_greenapi, anna) -> None:
    answer = api.post(
        "/whatsapp/messages", {"clientId": str(anna.pk), "text": "Добрый день"}, content_type="application/json"
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "sent"
    assert body["externalId"] == fake_greenapi.sent[0]["idMessage"]
    assert body["clientId"] == str(anna.pk)


def test_api_sends_to_a_phone_written_any_way_and_finds_or_creates_the_client(api, fake_greenapi, anna) -> None:
    answer = api.post(
        "/whatsapp/messages", {"phone": "8 (903) 123-45-67", "text": "Hi"}, content_type="application/json"
    )
    assert answer.status_code == 201
    assert answer.json()["clientId"] == str(anna.pk)
    answer = api.post(
        "/whatsapp/messages", {"phone": "+55 11 98765-4321", "text": "Olá"}, content_type="application/json"
    )
    assert answer.status_code == 201
    assert Client.objects.get(whatsapp_id="5511987654321")
    assert [s["chatId"] for s in fake_greenapi.sent] == ["79031234567@c.us", "5511987654321@c.us"]


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "not a phone", "text": "x"},
        {"phone": "123", "text": "x"},
        {"phone": "+7 999 123-45-67", "text": ""},
        {"phone": "+7 999 123-45-67", "text": "   "},
        {"phone": "+7 999 123-45-67", "text": "я" * 20_001},
        {"text": "no recipient"},
        {"phone": "+7 999 123-45-67", "clientId": "6b0a1f0e-6f7a-4c44-9c4f-0f6b7b1c2d3e", "text": "both"},
    ],
)
def test_api_rejects_bad_input_with_400_and_sends_nothing(api, fake_greenapi, body: dict) -> None:
    answer = api.post("/whatsapp/messages", body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["detail"]
    assert fake_greenapi.sent == []
    assert not Message.objects.exists()
    assert not Client.objects.exists()


def test_api_unknown_client_is_404(api, fake_greenapi) -> None:
    answer = api.post(
        "/whatsapp/messages",
        {"clientId": "6b0a1f0e-6f7a-4c44-9c4f-0f6b7b1c2d3e", "text": "x"},
        content_type="application/json",
    )
    assert answer.status_code == 404


def test_api_green_api_refusal_is_502_with_the_reason_and_the_message_kept(api, fake_greenapi, anna) -> None:
    fake_greenapi.fail_with = 466
    answer = api.post("/whatsapp/messages", {"clientId": str(anna.pk), "text": "x"}, content_type="application/json")
    assert answer.status_code == 502
    assert "quota" in answer.json()["detail"]
    assert Message.objects.get().status == "failed"


def test_api_without_green_api_settings_is_503(api, anna, settings) -> None:
    settings.GREEN_API_TOKEN = ""
    answer = api.post("/whatsapp/messages", {"clientId": str(anna.pk), "text": "x"}, content_type="application/json")
    assert answer.status_code == 503
    assert "GREEN_API_TOKEN" in answer.json()["detail"]


def test_api_without_green_api_settings_creates_no_client_for_a_new_number(api, settings) -> None:
    settings.GREEN_API_ID_INSTANCE = ""
    answer = api.post("/whatsapp/messages", {"phone": "+7 916 555-01-02", "text": "x"}, content_type="application/json")
    assert answer.status_code == 503
    assert "GREEN_API_ID_INSTANCE" in answer.json()["detail"]
    assert (Client.objects.count(), Message.objects.count()) == (0, 0)


def test_api_needs_a_token(client) -> None:
    assert (
        client.post(
            "/whatsapp/messages", {"phone": "+79031234567", "text": "x"}, content_type="application/json"
        ).status_code
        == 401
    )


# ---------------------------------------------------------------------------------------------
# How often one user may send (SEND_RATE_PER_USER, 30/min by default)


def send(client, anna: Client, **headers: str):
    return client.post(
        "/whatsapp/messages", {"clientId": str(anna.pk), "text": "Ещё раз"}, content_type="application/json", **headers
    )


def test_the_31st_message_in_a_minute_is_429_with_retry_after_and_is_not_sent(api, fake_greenapi, anna) -> None:
    for _ in range(30):
        assert send(api, anna).status_code == 201
    answer = send(api, anna)
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 60
    assert answer.json()["detail"]
    assert (Message.objects.count(), len(fake_greenapi.sent)) == (30, 30)


def test_each_user_has_a_limit_of_their_own_and_the_admin_shares_it(api, fake_greenapi, anna, rf) -> None:
    from accounts.models import User
    from conftest import grant
    from whatsapp.throttles import send_wait_seconds

    for _ in range(30):
        assert send(api, anna).status_code == 201
    other = grant(User.objects.create_user(email="other@example.com", password="pw"), "whatsapp.send_message")
    assert send(api, anna, HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(other)}").status_code == 201
    # The admin's reply box asks the same counter before it sends.
    request = rf.post("/admin/clients/client/x/send/")
    request.user = User.objects.get(email="staff@example.com")
    assert 0 < send_wait_seconds(request=request) <= 60
    request.user = other
    assert send_wait_seconds(request=request) is None


def test_a_bad_send_rate_stops_the_start_with_its_name() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={**os.environ, "SEND_RATE_PER_USER": "lots"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SEND_RATE_PER_USER must be a number of requests per s, min, hour or day (30/min), not 'lots'" in (
        result.stderr
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the Procfile's gunicorn shares the test's database only on PostgreSQL (set DATABASE_URL)",
)
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_procfiles_server_limits_sending_from_the_environment_across_its_workers(fake_greenapi) -> None:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from accounts.models import User

    anna = Client.objects.create(name="Анна", whatsapp_id="79031234567")
    boss = User.objects.create_superuser(email="boss@example.com", password=None)
    # gunicorn runs the production settings, which know no MD5 hasher (the tests' one).
    boss.password = PBKDF2PasswordHasher().encode("pw-for-the-server", PBKDF2PasswordHasher().salt())
    boss.save()
    green_api = {
        "GREEN_API_URL": fake_greenapi.url,
        "GREEN_API_ID_INSTANCE": fake_greenapi.id_instance,
        "GREEN_API_TOKEN": fake_greenapi.token,
    }
    server = Gunicorn(database_url(connection.settings_dict), SEND_RATE_PER_USER="3/min", **green_api).start()
    try:
        login = requests.post(
            f"{server.url}/auth/login", json={"email": "boss@example.com", "password": "pw-for-the-server"}, timeout=10
        )
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        answers = [
            requests.post(
                f"{server.url}/whatsapp/messages",
                json={"clientId": str(anna.pk), "text": "hi"},
                headers=headers,
                timeout=10,
            )
            for _ in range(5)
        ]
    finally:
        server.stop()
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    assert int(answers[3].headers["Retry-After"]) > 0
    assert (Message.objects.count(), len(fake_greenapi.sent)) == (3, 3)
