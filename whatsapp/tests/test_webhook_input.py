"""What no input may do to the webhook: crash it (500, 503, a traceback), or forge a line of its log."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection

from clients.models import Client
from conftest import payload
from crm.testing.servers import Gunicorn, database_url
from whatsapp.models import Message, Notification
from whatsapp.services import notification_replay
from whatsapp.tests.test_webhook_application import call

pytestmark = pytest.mark.django_db

TEXT = payload("incomingMessageReceived.textMessage.json")
SMALL = '{"typeWebhook": "incomingMessageReceived", "idMessage": "ENC-1", "a": "я"}'

# JSON objects that are not UTF-8: json.loads would read every one of them.
NOT_UTF8 = {
    "a lone surrogate written in UTF-8": b'{"a":"\xed\xa0\x80"}',
    "UTF-16 with its BOM": SMALL.encode("utf-16"),
    "UTF-16-LE": SMALL.encode("utf-16-le"),
    "UTF-16-BE": SMALL.encode("utf-16-be"),
    "UTF-32 with its BOM": SMALL.encode("utf-32"),
    "UTF-32-LE": SMALL.encode("utf-32-le"),
    "UTF-32-BE": SMALL.encode("utf-32-be"),
    "Windows-1251": SMALL.encode("cp1251"),
}


def huge(digits: int) -> str:
    return "9" * digits


# Bodies that are JSON objects, each with one absurd field: kept (200), the field read as absent.
# Written as text: a 5,000-digit number cannot even be made by json.dumps.
text = json.dumps(TEXT, ensure_ascii=False)
# A message without a readable WhatsApp time takes the time it arrived (the conversation is ordered by it).
ARRIVAL = object()
ODD_FIELDS = {
    "timestamp '²'": (text.replace('"timestamp": 1763901234', '"timestamp": "²"'), "sent_at", ARRIVAL),
    "timestamp of 5,000 digits": (text.replace("1763901234", f'"{huge(5000)}"'), "sent_at", ARRIVAL),
    "timestamp number of 5,000 digits": (text.replace("1763901234", huge(5000)), "sent_at", ARRIVAL),
    "idInstance of 5,000 digits": (text.replace("1103123456", f'"{huge(5000)}"'), "instance_id", 0),
    "idInstance number of 5,000 digits": (text.replace("1103123456", huge(5000)), "instance_id", 0),
    "idInstance number of minus 5,000 digits": (text.replace("1103123456", "-" + huge(5000)), "instance_id", 0),
}


@pytest.mark.parametrize("case", NOT_UTF8)
def test_a_body_that_is_not_utf8_is_a_400_saying_so_and_stores_nothing(post_webhook, client, case: str) -> None:
    for answer in (post_webhook(NOT_UTF8[case]), call("POST", "/whatsapp/webhook", NOT_UTF8[case])):
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("Body must be UTF-8 JSON (RFC 8259)")
    assert not Notification.objects.exists()


def test_a_utf8_body_with_a_byte_order_mark_is_kept_without_it(post_webhook) -> None:
    answer = post_webhook(b"\xef\xbb\xbf" + json.dumps(TEXT, ensure_ascii=False).encode())
    assert answer.status_code == 200
    assert json.loads(Notification.objects.get().body) == TEXT
    assert Message.objects.get().external_id == TEXT["idMessage"]


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("case", ODD_FIELDS)
def test_an_absurd_number_is_kept_and_read_as_absent(post_webhook, settings, case: str, fast: bool) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    body, field, absent = ODD_FIELDS[case]
    Client.objects.create(name="Анна", whatsapp_id="79031234567")
    for answer in (post_webhook(body.encode()), call("POST", "/whatsapp/webhook", body.encode())):
        assert answer.status_code == 200
        assert answer.json()["outcome"] == "processed"
    notification = Notification.objects.get()
    assert notification.body == body
    assert notification.deliveries == 2
    message = Message.objects.get()
    if absent is ARRIVAL:
        assert abs(message.sent_at - message.created_at) < timedelta(minutes=1)
    else:
        assert getattr(message, field) == absent
    # Replaying the kept body reads it as the webhook did.
    assert notification_replay(notification=notification).outcome == "processed"


def test_a_kept_body_with_an_absurd_number_is_shown_to_staff_as_it_came(post_webhook) -> None:
    body = ODD_FIELDS["timestamp number of 5,000 digits"][0]
    post_webhook(body.encode())
    assert huge(5000) in Notification.objects.get().body_pretty


FORGED = "X1\nIncoming message processed: FORGED\r\x1b[2K\x85FORGED\u2028FORGED\u2029\x0bFORGED\x00"


def test_values_in_the_guides_lines_cannot_forge_a_line(post_webhook, capsys) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = FORGED
    body["senderData"]["senderName"] = body["senderData"]["senderContactName"] = "Анна" + FORGED
    body[FORGED] = FORGED  # a key, in the banner's `Body keys` line, and a value in the full body
    assert post_webhook(body).json()["outcome"] == "processed"
    out = capsys.readouterr().out
    assert "Incoming message processed: X1\\nIncoming message processed: FORGED\\r\\x1b[2K\\x85FORGED" in out
    assert "Created new client: " in out
    assert [
        line for line in out.splitlines() if line.startswith(("Incoming message processed: FORGED", "FORGED"))
    ] == []
    for control in ("\r", "\x1b", "\x85", "\u2028", "\u2029", "\x0b", "\x00"):
        assert control not in out


def test_an_error_line_cannot_forge_a_line(post_webhook, reject_message_inserts, capsys) -> None:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = "E1\n✅ all good\x1b[1A"
    assert post_webhook(body).json()["outcome"] == "failed"
    errors = [line for line in capsys.readouterr().out.splitlines() if "Error handling webhook" in line]
    assert len(errors) == 1
    assert errors[0].startswith("❌ Error handling webhook: incomingMessageReceived E1\\n✅ all good\\x1b[1A: ")
    assert "read-only for maintenance" in errors[0]


def test_in_production_a_forged_line_is_escaped_and_the_numbers_after_it_masked(post_webhook, capsys, settings) -> None:
    settings.LOG_MODE = "production"
    body = {"typeWebhook": "somethingNew", "idMessage": "X\n⚠️ Warning: client 79991234567 wrote\u2028+79161234567"}
    assert post_webhook(body).status_code == 200
    lines = capsys.readouterr().out.splitlines()
    warning = next(line for line in lines if line.startswith("⚠️ Warning:"))
    assert "X\\n⚠️ Warning: client 7999*****67 wrote\\u2028+7916*****67" in warning
    assert all(line.startswith(("⚠️ Warning:", "📨 Received webhook from Green API:")) for line in lines), lines
    assert "79991234567" not in "".join(lines)


# The Procfile's gunicorn in production: every odd body of this module, and what it printed.
@pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database server (DATABASE_URL)")
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_procfile_server_in_production_answers_odd_bodies_without_a_traceback(monkeypatch) -> None:
    monkeypatch.setenv("KEEP_GUNICORN_LOG", "1")  # read below, once every line is written
    server = Gunicorn(database_url(connection.settings_dict)).start()
    url = f"{server.url}/whatsapp/webhook"
    try:
        for body in NOT_UTF8.values():
            assert requests.post(url, data=body, timeout=30).status_code == 400
        for body, _, _ in ODD_FIELDS.values():
            assert requests.post(url, data=body.encode(), timeout=30).status_code == 200
        forged = json.dumps({"typeWebhook": "somethingNew", "idMessage": FORGED})
        assert requests.post(url, data=forged.encode(), timeout=30).status_code == 200
    finally:
        server.stop()
        log = Path(server.log.name).read_text()
        Path(server.log.name).unlink()
    assert "Traceback" not in log
    assert "Internal Server Error" not in log
    assert log.count("❌ Error handling webhook: body is not UTF-8") == len(NOT_UTF8)
    assert log.count("📨 Received webhook from Green API: ") == len(ODD_FIELDS) + 1
    assert "⚠️ Warning: notification somethingNew X1\\nIncoming message processed: FORGED\\r" in log
    assert not [line for line in log.splitlines() if line.startswith(("FORGED", "Incoming message processed"))]
    for control in ("\r", "\x1b", "\x85", "\u2028", "\u2029", "\x0b"):
        assert control not in log
