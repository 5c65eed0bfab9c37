"""Finding the client of an incoming number: exact, then the guide's "contained in" rule, which is
only for numbers people wrote without the country code. Every case runs on both write paths: the
general one (clients.services) and the one-statement fast path (PostgreSQL; elsewhere it hands over
to the general one)."""

import pytest

from clients.models import Client, ClientNumber
from conftest import payload
from whatsapp.models import Message, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["general", "fast"])
def post(request, post_webhook, settings):
    settings.WEBHOOK_FAST_PATH = request.param
    return post_webhook


def incoming(number: str, id_message: str = "A5F3B2C1D4E6F7081920AB3C4D5E6F70") -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = id_message
    body["senderData"]["chatId"] = body["senderData"]["sender"] = f"{number}@c.us"
    return body


def imported(name: str, whatsapp_id: str) -> Client:
    """A client written to the database as an import would (not by the webhook, not normalised)."""
    return Client.objects.create(name=name, whatsapp_id=whatsapp_id)


def test_exact_whatsapp_id_wins(post) -> None:
    exact = imported("Exact", "79031234567")
    imported("Contained", "9031234567")
    post(incoming("79031234567"))
    assert Message.objects.get().client == exact


@pytest.mark.parametrize(
    ("stored", "number"),
    [
        ("9031234567", "79031234567"),  # Russia, without the country code
        ("89031234567", "79031234567"),  # Russia, with the trunk prefix 8
        ("87011234567", "77011234567"),  # Kazakhstan shares +7, with its own trunk prefix
        ("07911123456", "447911123456"),  # Britain's trunk prefix 0
        ("11987654321", "5511987654321"),  # Brazil: no trunk prefix in its national format
    ],
)
def test_a_number_people_wrote_without_the_country_code_finds_its_client(post, capsys, stored, number) -> None:
    client = imported("No country code", stored)
    post(incoming(number))
    assert Message.objects.get().client == client
    assert Client.objects.count() == 1
    assert "Found existing client: " in capsys.readouterr().out


def test_a_number_the_webhook_stored_never_captures_a_longer_one(post) -> None:
    """`1234567@c.us` is a whole number of its own: the next stranger is not that client."""
    post(incoming("1234567", id_message="FIRST00000000000"))
    post(incoming("79161234567", id_message="SECOND0000000000"))
    assert sorted(Client.objects.values_list("whatsapp_id", flat=True)) == ["1234567", "79161234567"]
    assert Message.objects.get(external_id="SECOND0000000000").client.whatsapp_id == "79161234567"


def test_a_national_looking_number_from_the_webhook_is_not_trusted_either(post) -> None:
    post(incoming("9161234567", id_message="FIRST00000000000"))
    post(incoming("79161234567", id_message="SECOND0000000000"))
    assert Client.objects.count() == 2
    assert Message.objects.get(external_id="SECOND0000000000").client.whatsapp_id == "79161234567"


def test_digits_inside_a_number_are_not_that_number(post) -> None:
    """`8811223` (typed as 88-11-22-3) is inside 79058811223, but 79058811223 is not 8811223 with a
    country code: libphonenumber says its national number is 9058811223."""
    imported("Typed as 88-11-22-3", "8811223")
    imported("Seven digits", "1234567")
    post(incoming("79058811223", id_message="FIRST00000000000"))
    post(incoming("79161234567", id_message="SECOND0000000000"))
    assert Client.objects.count() == 4
    assert not Message.objects.filter(client__name__in=["Typed as 88-11-22-3", "Seven digits"]).exists()


@pytest.mark.parametrize("chat_id", ["abc7916-123+4567xyz@c.us", "+7 916 123-45-67@c.us", "7916123456７@c.us"])
def test_a_chat_id_that_is_not_digits_is_not_a_phone(post, chat_id: str) -> None:
    known = imported("Known", "79161234567")
    body = incoming("")
    body["senderData"]["chatId"] = body["senderData"]["sender"] = chat_id
    answer = post(body)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored"
    notification = Notification.objects.get()
    assert "not a chat id" in notification.detail
    assert not Message.objects.exists()
    assert list(Client.objects.all()) == [known], "no client invented from its digits"


def test_ambiguous_containment_creates_a_new_client_and_warns(post, capsys) -> None:
    imported("A", "9031234567")
    imported("B", "89031234567")
    post(incoming("79031234567"))
    assert Message.objects.get().client.whatsapp_id == "79031234567"
    assert "⚠️ Warning: 79031234567 matches several clients" in capsys.readouterr().out


def test_an_invalid_number_matches_nothing_but_itself(post) -> None:
    imported("Short", "234567")
    post(incoming("1234567"))
    assert Message.objects.get().client.whatsapp_id == "1234567"


def test_a_number_kept_without_the_country_code_among_other_numbers_finds_its_client(post) -> None:
    client = imported("Анна", "79991234567")
    ClientNumber.objects.create(client=client, value="9031234567")
    post(incoming("79031234567"))
    assert Message.objects.get().client == client
    assert Client.objects.count() == 1
