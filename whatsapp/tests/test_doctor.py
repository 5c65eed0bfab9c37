"""whatsapp_doctor diagnoses each of the guide's three problems, with Green API played locally."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from clients.models import Client, ClientNumber
from conftest import payload
from whatsapp.backfill import messages_backfill
from whatsapp.greenapi import GreenAPI
from whatsapp.models import Notification

pytestmark = pytest.mark.django_db

URL = "https://crm.example.com/whatsapp/webhook"
NEEDED = ["incomingWebhook", "outgoingMessageWebhook", "outgoingAPIMessageWebhook", "outgoingWebhook"]


def doctor(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("whatsapp_doctor", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def healthy(fake_greenapi, settings, post_webhook, no_backfill_yet):
    """An instance set up right, a token, notifications arriving, a backfill that found nothing missing."""
    settings.PUBLIC_URL = "https://crm.example.com"
    settings.GREEN_API_WEBHOOK_TOKEN = "tok"
    fake_greenapi.settings.update({"webhookUrl": URL, "webhookUrlToken": "tok", **dict.fromkeys(NEEDED, "yes")})
    post_webhook(payload("incomingMessageReceived.textMessage.json"), Authorization="Bearer tok")
    messages_backfill(api=GreenAPI.from_settings(), minutes=5)
    return fake_greenapi


def test_a_healthy_setup_passes_every_check(healthy) -> None:
    code, out = doctor()
    assert code == 0, out
    assert out.count("✅") == 9
    assert "❌" not in out


def test_problem_webhook_does_not_arrive(fake_greenapi, settings) -> None:
    """The guide: 'Webhook не приходит' — Green API posts elsewhere, nothing has ever arrived."""
    settings.PUBLIC_URL = "https://crm.example.com"
    fake_greenapi.settings["webhookUrl"] = "https://old-ngrok-url.ngrok.io/whatsapp/webhook"
    code, out = doctor()
    assert code == 1
    assert "❌ Green API webhook settings: webhookUrl is 'https://old-ngrok-url.ngrok.io/whatsapp/webhook'" in out
    assert f"fix: manage.py greenapi_configure --webhook-url {URL}" in out
    assert "❌ last notification: no notification has ever arrived" in out
    assert "⚠️ webhook token: GREEN_API_WEBHOOK_TOKEN is not set" in out


def test_problem_instance_not_authorized(healthy) -> None:
    healthy.state = "notAuthorized"
    code, out = doctor()
    assert code == 1
    assert "❌ Green API: instance 1103123456 is notAuthorized" in out
    assert "scan the QR code" in out


def test_problem_messages_not_saved(healthy, post_webhook, reject_message_inserts) -> None:
    """The guide: 'Сообщения не сохраняются' — processing fails; the doctor shows why and how to replay."""
    body = payload("incomingMessageReceived.imageMessage.json")
    post_webhook(body, Authorization="Bearer tok")
    code, out = doctor()
    assert code == 1
    assert "❌ failed notifications: 1 failed; latest" in out
    assert f"incomingMessageReceived {body['idMessage']}: " in out
    assert "read-only for maintenance" in out
    assert "fix: fix the cause, then: manage.py replay_notifications" in out
    reject_message_inserts()
    call_command("replay_notifications", stdout=io.StringIO())
    assert doctor()[0] == 0


def test_problem_client_not_found(healthy, post_webhook) -> None:
    """The guide: 'Клиент не находится' — the client was stored with the number in another form, so
    the webhook created the client before the same person was imported with the number in another form."""
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = "TWIN000000000001"
    body["senderData"]["chatId"] = body["senderData"]["sender"] = "79161112233@c.us"
    post_webhook(body, Authorization="Bearer tok")
    Client.objects.create(name="Иван (вручную)", whatsapp_id="89161112233")
    code, out = doctor()
    assert code == 0, "a warning, not a failure: messages are still saved"
    assert "⚠️ client numbers: 1 not normalised: Иван (вручную) (89161112233 → 79161112233)" in out
    assert "look like twins" in out
    assert "Merge" in out


def test_a_number_found_normal_is_checked_again_once_it_changes_or_the_region_does(settings) -> None:
    """Each number is parsed once per region (the mark spares 100,000 parses on every run); a value
    changed by any writer, SQL included, or another DEFAULT_PHONE_REGION, is checked again."""
    client = Client.objects.create(name="Анна", whatsapp_id="79161112233")
    assert "✅ client numbers: 1 clients, 1 numbers" in doctor()[1]
    assert ClientNumber.objects.get(client=client).normalised_for == "RU"
    number = ClientNumber.objects.get(client=client)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE client_numbers SET value = '89161112233' WHERE id = %s", [number.pk])
    assert "1 not normalised: Анна (89161112233 → 79161112233)" in doctor()[1]
    ClientNumber.objects.filter(client=client).update(value="9161112233")
    assert "1 not normalised: Анна (9161112233 → 79161112233)" in doctor()[1]
    ClientNumber.objects.filter(client=client).update(value="79161112233")
    assert "✅ client numbers" in doctor()[1]
    settings.DEFAULT_PHONE_REGION = "KZ"
    ClientNumber.objects.filter(client=client).update(value="87011112233")
    assert "1 not normalised: Анна (87011112233 → 77011112233)" in doctor()[1]
    ClientNumber.objects.filter(client=client).update(value="79161112233", normalised_for="RU")
    assert ClientNumber.objects.get(client=client).normalised_for == "RU", "a writer that checked keeps its mark"
    assert "✅ client numbers" in doctor()[1]
    assert ClientNumber.objects.get(client=client).normalised_for == "KZ"


@pytest.mark.parametrize("typed", [2, 1_001], ids=["a few", "a whole import"])
def test_twins_are_found_however_many_numbers_are_typed_nationally(typed: int) -> None:
    """The doctor reads only the rows that can be twins: by their end, or all of them for an import."""
    Client.objects.bulk_create(
        [Client(name=f"Импорт {n}", whatsapp_id=f"8916{n:07d}") for n in range(typed)]
        + [Client(name="Из WhatsApp", whatsapp_id="79160000001"), Client(name="Другой", whatsapp_id="79169999999")]
    )
    out = doctor()[1]
    assert f"⚠️ client numbers: {typed} not normalised: Импорт 0 (89160000000 → 79160000000)" in out
    twins = "Импорт 1 (89160000001) and Из WhatsApp (79160000001); Из WhatsApp (79160000001) and Импорт 1 (89160000001)"
    assert f"2 look like twins: {twins}" in out
    assert "Другой" not in out


def test_green_api_unreachable_fails_those_checks_and_runs_the_rest(settings, post_webhook) -> None:
    settings.GREEN_API_URL, settings.GREEN_API_ID_INSTANCE, settings.GREEN_API_TOKEN = "http://127.0.0.1:9", "1", "t"
    post_webhook(payload("incomingMessageReceived.textMessage.json"))
    code, out = doctor()
    assert code == 1
    assert "❌ Green API: Cannot reach Green API" in out
    assert "✅ database" in out
    assert "✅ last notification" in out
    assert "✅ client numbers" in out


def test_json_output_for_machines(healthy) -> None:
    code, out = doctor("--json")
    report = json.loads(out)
    assert code == 0
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {"database", "Green API", "last notification"}
    assert report["checks"][0] == {
        "name": "database",
        "status": "ok",
        "detail": "reachable, every migration applied",
        "fix": "",
        "data": {},
    }


def test_an_old_last_notification_is_a_warning(healthy) -> None:
    Notification.objects.update(received_at="2020-01-01T00:00:00Z")
    code, out = doctor("--quiet-hours", "1")
    assert code == 0
    assert "⚠️ last notification: 2020-01-01T00:00:00.000Z" in out
