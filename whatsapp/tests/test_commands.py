"""Operator commands: clear_whatsapp_messages (the guide's section 4)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from clients.models import Client
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def messages() -> Client:
    client = Client.objects.create(name="Анна", whatsapp_id="79031234567")
    Message.objects.bulk_create(
        [Message(client=client, direction="inbound", content=f"m{i}", external_id=f"E{i:020d}") for i in range(25)]
    )
    Message.objects.create(client=client, channel="email", direction="inbound", content="keep me")
    return client


def run(*args: str, answer: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    call_command("clear_whatsapp_messages", *args, stdout=out)
    return out.getvalue()


def test_clear_deletes_every_whatsapp_message_and_keeps_clients(messages) -> None:
    out = run("--noinput", "--batch-size", "10")
    assert "Deleted 25 WhatsApp messages." in out
    assert "25/25" in out, "progress is shown"
    assert not Message.objects.filter(channel="whatsapp").exists()
    assert Message.objects.filter(channel="email").count() == 1
    assert Client.objects.filter(pk=messages.pk).exists()


def test_a_batch_size_below_one_is_refused_and_deletes_nothing(messages) -> None:
    before = Message.objects.count()
    with pytest.raises(CommandError, match="--batch-size must be at least 1, not -1"):
        call_command("clear_whatsapp_messages", "--noinput", "--batch-size", "-1", stdout=io.StringIO())
    assert Message.objects.count() == before > 0


def test_dry_run_only_counts(messages) -> None:
    assert "Dry run: 25 WhatsApp messages would be deleted." in run("--dry-run")
    assert Message.objects.filter(channel="whatsapp").count() == 25


def test_clear_asks_first_and_a_no_keeps_everything(messages, monkeypatch) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Cancelled"):
        run()
    assert Message.objects.filter(channel="whatsapp").count() == 25


def test_clear_asks_first_and_a_yes_deletes(messages, monkeypatch) -> None:
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "yes")
    assert "Deleted 25" in run()
    assert "Delete 25 WhatsApp messages?" in prompts[0]


def test_the_guides_raw_sql_works_on_our_schema(messages) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM messages WHERE channel = 'whatsapp';")
    assert not Message.objects.filter(channel="whatsapp").exists()
