"""Finding the client of an incoming number: exact, then the guide's "contained in" rule."""

import pytest

from clients.models import Client
from conftest import payload
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


def incoming(number: str, id_message: str = "A5F3B2C1D4E6F7081920AB3C4D5E6F70") -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = id_message
    body["senderData"]["chatId"] = body["senderData"]["sender"] = f"{number}@c.us"
    return body


def test_exact_whatsapp_id_wins(post_webhook) -> None:
    exact = Client.objects.create(name="Exact", whatsapp_id="79031234567")
    Client.objects.create(name="Contained", whatsapp_id="9031234567")
    post_webhook(incoming("79031234567"))
    assert Message.objects.get().client == exact


def test_whatsapp_id_contained_in_the_number_matches_when_unambiguous(post_webhook, capsys) -> None:
    stored = Client.objects.create(name="No country code", whatsapp_id="9031234567")
    post_webhook(incoming("79031234567"))
    assert Message.objects.get().client == stored
    assert Client.objects.count() == 1
    assert "Found existing client: " in capsys.readouterr().out


def test_ambiguous_containment_creates_a_new_client_and_warns(post_webhook, capsys) -> None:
    Client.objects.create(name="A", whatsapp_id="9031234567")
    Client.objects.create(name="B", whatsapp_id="79031234")
    post_webhook(incoming("79031234567"))
    assert Message.objects.get().client.whatsapp_id == "79031234567"
    assert "⚠️ Warning: 79031234567 matches several clients" in capsys.readouterr().out


def test_short_fragments_never_match(post_webhook) -> None:
    Client.objects.create(name="Short", whatsapp_id="123456")
    post_webhook(incoming("79031234567"))
    assert Message.objects.get().client.name != "Short"
