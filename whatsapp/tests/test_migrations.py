"""Migrations that change data: what was stored before keeps its meaning after."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from whatsapp.models import Message

BEFORE_SENT_AT = [("whatsapp", "0006_send_permission")]


@pytest.mark.django_db(transaction=True)
def test_messages_stored_without_whatsapps_time_take_their_arrival_time() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_SENT_AT)
    old = executor.loader.project_state(BEFORE_SENT_AT).apps
    client = old.get_model("clients", "Client").objects.create(name="Анна", whatsapp_id="79991234567")
    arrived = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    written = datetime(2024, 1, 15, 10, 29, tzinfo=UTC)
    messages = old.get_model("whatsapp", "Message").objects
    untimed = messages.create(client=client, direction="inbound", content="без времени", created_at=arrived)
    timed = messages.create(
        client=client, direction="inbound", content="со временем", created_at=arrived, sent_at=written
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Message.objects.get(pk=untimed.pk).sent_at == arrived
    assert Message.objects.get(pk=timed.pk).sent_at == written
