"""What the backfill's findings tell staff: the doctor names the likely cause, /whatsapp/stats counts
them; and an instance set up for polling passes the checks."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from conftest import payload
from whatsapp.models import Notification
from whatsapp.tests.test_backfill import backfill, fill_history
from whatsapp.tests.test_doctor import NEEDED, URL, doctor
from whatsapp.tests.test_greenapi_commands import status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_backfill_yet")]


@pytest.fixture
def set_up(fake_greenapi, settings, post_webhook):
    """An instance set up right, notifications arriving now, and an outage's messages in the history."""
    settings.PUBLIC_URL = "https://crm.example.com"
    settings.GREEN_API_WEBHOOK_TOKEN = "tok"
    fake_greenapi.settings.update({"webhookUrl": URL, "webhookUrlToken": "tok", **dict.fromkeys(NEEDED, "yes")})
    post_webhook(payload("stateInstanceChanged.authorized.json"), Authorization="Bearer tok")
    fill_history(fake_greenapi, minutes_ago=30)
    return fake_greenapi


def test_without_a_backfill_the_doctor_says_none_ran(set_up) -> None:
    code, out = doctor()
    assert code == 0, out
    assert "⚠️ backfill: no backfill recorded" in out
    assert "fix: start the worker" in out


def test_messages_missed_while_nothing_arrived_point_at_the_server(set_up) -> None:
    backfill("--minutes", "60")
    code, out = doctor()
    assert code == 0, "a warning: nothing was lost"
    assert "⚠️ backfill: last run" in out
    assert "recovered 7 of 7; 7 recovered in 24 h" in out
    assert "Likely cause: this server was down or unreachable then: no notification arrived from" in out


def test_messages_missed_while_others_arrived_point_at_the_queue(set_up) -> None:
    Notification.objects.update(received_at=timezone.now() - timedelta(minutes=31))
    backfill("--minutes", "60")
    out = doctor()[1]
    assert "Likely cause: Green API's queue never delivered it, although notifications were arriving" in out


def test_messages_missed_with_the_webhook_elsewhere_point_at_its_url(set_up) -> None:
    set_up.settings["webhookUrl"] = "https://old-tunnel.ngrok.io/whatsapp/webhook"
    backfill("--minutes", "60")
    out = doctor()[1]
    assert "Likely cause: the webhook settings (webhookUrl is 'https://old-tunnel.ngrok.io" in out


def test_a_backfill_that_found_nothing_missing_is_fine(set_up) -> None:
    set_up.incoming.clear()
    set_up.outgoing.clear()
    set_up.chat_only.clear()
    backfill("--minutes", "60")
    out = doctor()[1]
    assert "✅ backfill: last run" in out
    assert "the webhook missed nothing" in out


def test_stats_count_the_recovered_messages(set_up, api) -> None:
    assert api.get("/whatsapp/stats").json()["recoveredMessages"] == 0
    backfill("--minutes", "60")
    assert api.get("/whatsapp/stats").json()["recoveredMessages"] == 7


def test_configure_for_polling_empties_the_webhook_url_and_the_checks_pass(fake_greenapi, settings) -> None:
    settings.GREEN_API_RECEIVE = "poll"
    fake_greenapi.settings["webhookUrl"] = URL
    code, out = status()
    assert code == 1
    assert "fix: manage.py greenapi_configure --polling" in out
    printed = io.StringIO()
    call_command("greenapi_configure", polling=True, stdout=printed)
    assert f"webhookUrl: {URL} → (empty)" in printed.getvalue()
    assert fake_greenapi.settings["webhookUrl"] == ""
    assert fake_greenapi.settings["incomingWebhook"] == "yes"
    code, out = status()
    assert code == 0, out
    assert "✅ Green API webhook settings: no webhook URL: greenapi_receive takes the queue" in doctor()[1]
