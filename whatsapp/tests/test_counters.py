"""The trigger-kept counters behind /whatsapp/stats always equal a real count."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from clients.models import Client
from conftest import payload, postgres_only
from whatsapp import stats
from whatsapp.models import Message

pytestmark = [postgres_only, pytest.mark.django_db]


def real_counts() -> dict:
    rows = Message.objects.filter(channel="whatsapp").values("direction", "status").annotate(n=Count("id"))
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
    return by_status


def assert_counters_match() -> None:
    counted = stats.message_counts()
    assert counted["byStatus"] == real_counts()
    assert counted["total"] == Message.objects.filter(channel="whatsapp").count()
    real_clients = Client.objects.exclude(whatsapp_id=None, whatsapp_lid=None).count()
    assert stats.clients_with_whatsapp() == real_clients


def test_counters_follow_inserts_status_changes_and_deletes(post_webhook) -> None:
    for name in ["incomingMessageReceived.textMessage.json", "outgoingAPIMessageReceived.textMessage.json"]:
        post_webhook(payload(name))
    assert_counters_match()
    post_webhook(payload("outgoingMessageStatus.delivered.json"))
    post_webhook(payload("outgoingMessageStatus.read.json"))
    assert stats.message_counts()["byStatus"] == {"received": 1, "read": 1}
    assert_counters_match()
    Client.objects.create(name="No WhatsApp")
    Client.objects.create(name="Lid only", whatsapp_lid="120650379300963")
    Client.objects.filter(whatsapp_lid="120650379300963").update(whatsapp_lid=None)
    assert_counters_match()
    Message.objects.filter(direction="inbound").delete()
    assert_counters_match()


def test_counters_survive_the_guides_raw_delete_and_the_clear_command(post_webhook) -> None:
    post_webhook(payload("incomingMessageReceived.textMessage.json"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM messages WHERE channel = 'whatsapp'")
    assert stats.message_counts()["total"] == 0
    post_webhook(payload("incomingMessageReceived.imageMessage.json"))
    call_command("clear_whatsapp_messages", "--noinput", stdout=open("/dev/null", "w"))
    assert_counters_match()


def test_other_channels_are_not_counted_as_whatsapp() -> None:
    client = Client.objects.create(name="Mail", whatsapp_id="79990000003")
    Message.objects.create(client=client, channel="email", direction="inbound", content="x")
    assert stats.message_counts()["total"] == 0
    assert_counters_match()
