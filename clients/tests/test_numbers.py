"""A client with several WhatsApp numbers (and lids): each finds the client, merge keeps them all,
the admin shows and edits them, and no number is ever two clients'."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from clients.models import Client, ClientNumber
from clients.services import client_merge
from clients.tests.forms import client_form
from conftest import payload
from whatsapp.doctor import check_client_numbers
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["general", "fast"])
def post(request, post_webhook, settings):
    settings.WEBHOOK_FAST_PATH = request.param
    return post_webhook


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="pw"))
    return client


def incoming(chat_id: str, id_message: str) -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = id_message
    body["senderData"]["chatId"] = body["senderData"]["sender"] = chat_id
    return body


def numbers(client: Client) -> set[tuple[str, str]]:
    return set(client.numbers.values_list("kind", "value"))


def test_every_number_of_a_client_finds_it(post) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    ClientNumber.objects.create(client=anna, value="79031234567")
    ClientNumber.objects.create(client=anna, kind="lid", value="120650379300963")
    post(incoming("79991234567@c.us", "MAIN000000000000"))
    post(incoming("79031234567@c.us", "OTHER00000000000"))
    post(incoming("120650379300963@lid", "LID0000000000000"))
    assert Client.objects.count() == 1
    assert anna.messages.count() == 3
    anna.refresh_from_db()
    assert anna.whatsapp_id == "79991234567", "the main number stays the main number"


def test_after_a_merge_the_second_number_finds_the_kept_client(post) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567", whatsapp_lid="120650379300963")
    twin = Client.objects.create(name="Анна (рабочий)", whatsapp_id="79031234567", whatsapp_lid="120650379300964")
    ClientNumber.objects.create(client=twin, value="77011234567")
    with transaction.atomic():
        client_merge(keep=anna, others=[twin])
    post(incoming("79031234567@c.us", "AFTER00000000000"))
    post(incoming("77011234567@c.us", "AFTER00000000001"))
    assert list(Client.objects.all()) == [anna], "no twin created again"
    assert anna.messages.count() == 2
    assert numbers(anna) == {
        ("phone", "79991234567"),
        ("phone", "79031234567"),
        ("phone", "77011234567"),
        ("lid", "120650379300963"),
        ("lid", "120650379300964"),
    }
    anna.refresh_from_db()
    assert (anna.whatsapp_id, anna.whatsapp_lid) == ("79991234567", "120650379300963")


def test_a_merge_into_a_client_without_a_number_makes_the_twins_number_its_main() -> None:
    lid_only = Client.objects.create(whatsapp_lid="120650379300963")
    phone = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    with transaction.atomic():
        client_merge(keep=lid_only, others=[phone])
    lid_only.refresh_from_db()
    assert lid_only.whatsapp_id == "79991234567"
    source = ClientNumber.objects.get(value="79991234567").source
    assert source == "staff", "a number keeps where it came from"


def test_the_database_refuses_a_number_that_is_another_clients() -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    ClientNumber.objects.create(client=anna, value="79031234567")
    other = Client.objects.create(name="Другой", whatsapp_id="79161234567")
    for write in (
        lambda: ClientNumber.objects.create(client=other, value="79991234567"),
        lambda: Client.objects.create(name="Twin", whatsapp_id="79031234567"),
        lambda: Client.objects.filter(pk=other.pk).update(whatsapp_id="79031234567"),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            write()
    assert numbers(other) == {("phone", "79161234567")}


def test_a_replaced_main_number_stops_finding_the_client() -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    anna.whatsapp_id = "79031234567"
    anna.save()
    assert numbers(anna) == {("phone", "79031234567")}
    Client.objects.filter(pk=anna.pk).delete()
    assert not ClientNumber.objects.exists()


def test_the_admin_shows_a_clients_other_numbers(staff) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    ClientNumber.objects.create(client=anna, value="79031234567")
    page = staff.get(f"/admin/clients/client/{anna.pk}/change/").content.decode()
    assert "Other WhatsApp numbers" in page
    assert 'name="numbers-0-value" value="79031234567"' in page
    assert 'name="numbers-TOTAL_FORMS" value="1"' in page, "the main number is the field above, not a row"


def test_staff_add_a_number_in_any_form_and_it_is_stored_normalised(staff, post_webhook) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    answer = staff.post(
        f"/admin/clients/client/{anna.pk}/change/",
        client_form(name="Анна", whatsapp_id="79991234567", numbers=[("phone", "8 (903) 123-45-67")]),
    )
    assert answer.status_code == 302, answer.context["errors"] if answer.context else ""
    assert numbers(anna) == {("phone", "79991234567"), ("phone", "79031234567")}
    post_webhook(incoming("79031234567@c.us", "OTHER00000000000"))
    assert Message.objects.get().client == anna


@pytest.mark.parametrize(
    ("kind", "typed", "error"),
    [
        ("phone", "88-11-22-3", "88-11-22-3 is not a phone number: write it with the country code"),
        ("phone", "79161234567", "already has the WhatsApp number +7 916 123-45-67"),
        ("phone", "+7 999 123-45-67", "This is the main number already."),
        ("lid", "abc@lid", "A lid is the digits before @lid"),
    ],
    ids=["implausible", "another clients", "the main one", "not a lid"],
)
def test_a_number_staff_may_not_add_is_refused_with_why(staff, kind: str, typed: str, error: str) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    Client.objects.create(name="Пётр", whatsapp_id="79161234567")
    answer = staff.post(
        f"/admin/clients/client/{anna.pk}/change/",
        client_form(name="Анна", whatsapp_id="79991234567", numbers=[(kind, typed)]),
    )
    assert answer.status_code == 200
    assert error in answer.content.decode()
    assert numbers(anna) == {("phone", "79991234567")}


def test_the_same_number_twice_in_the_list_is_refused(staff) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    rows = [("phone", "79031234567"), ("phone", "8 903 123-45-67")]
    answer = staff.post(
        f"/admin/clients/client/{anna.pk}/change/", client_form(whatsapp_id="79991234567", numbers=rows)
    )
    assert answer.status_code == 200
    assert "This number is in the list twice." in answer.content.decode()


def test_a_main_number_that_is_not_a_phone_is_refused_in_the_admin(staff) -> None:
    answer = staff.post("/admin/clients/client/add/", client_form(name="Typo", whatsapp_id="88-11-22-3"))
    assert answer.status_code == 200
    assert "88-11-22-3 is not a phone number: write it with the country code" in answer.content.decode()
    assert not Client.objects.exists()


def test_a_main_number_another_client_has_among_its_others_is_refused_with_their_name(staff) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    ClientNumber.objects.create(client=anna, value="79031234567")
    answer = staff.post("/admin/clients/client/add/", client_form(name="Twin", whatsapp_id="8 903 123 45 67"))
    assert answer.status_code == 200
    assert "already has the WhatsApp number +7 903 123-45-67" in answer.content.decode()
    assert Client.objects.count() == 1


def test_staff_remove_a_number_and_swap_the_main_one(staff) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    work = ClientNumber.objects.create(client=anna, value="79031234567")
    old = ClientNumber.objects.create(client=anna, value="79161234567")
    form = client_form(
        name="Анна",
        whatsapp_id="79031234567",  # the work number becomes the main one; its row stays as it is
        numbers=[("phone", "79031234567"), ("phone", "79161234567"), ("phone", "79991234567")],
        initial=[work.pk, old.pk],
    )
    form["numbers-1-DELETE"] = "on"
    answer = staff.post(f"/admin/clients/client/{anna.pk}/change/", form)
    assert answer.status_code == 302, answer.context["errors"] if answer.context else ""
    anna.refresh_from_db()
    assert anna.whatsapp_id == "79031234567"
    assert numbers(anna) == {("phone", "79031234567"), ("phone", "79991234567")}


def test_changing_the_row_of_the_number_becoming_main_is_refused(staff) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    work = ClientNumber.objects.create(client=anna, value="79031234567")
    form = client_form(name="Анна", whatsapp_id="79031234567", numbers=[("phone", "79991234567")], initial=[work.pk])
    answer = staff.post(f"/admin/clients/client/{anna.pk}/change/", form)
    assert answer.status_code == 200
    assert "79031234567 is now the main number: leave this row as it is." in answer.content.decode()
    assert numbers(anna) == {("phone", "79991234567"), ("phone", "79031234567")}


def test_the_doctor_counts_every_number_of_every_client() -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    ClientNumber.objects.create(client=anna, value="89031234567")  # imported in another form
    Client.objects.create(name="Анна (twin)", whatsapp_id="79031234567")
    check = check_client_numbers()
    assert check.status == "warning"
    assert check.data["notNormalised"] == ["Анна (89031234567 → 79031234567)"]
    assert "Анна (twin) (79031234567) and Анна (89031234567)" in check.data["twins"]
    assert "Анна (89031234567) and Анна (twin) (79031234567)" in check.data["twins"]


def test_the_doctor_does_not_call_a_stranger_a_twin(post_webhook) -> None:
    post_webhook(incoming("1234567@c.us", "FIRST00000000000"))
    post_webhook(incoming("79161234567@c.us", "SECOND0000000000"))
    check = check_client_numbers()
    assert check.status == "ok", check.detail
    assert check.detail == "2 clients, 2 numbers, every one a normalised phone, no twins"


@pytest.fixture
def anna_with_two_numbers() -> Client:
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    ClientNumber.objects.create(client=anna, value="79031234567")
    return anna


def staff_with(client, *codenames: str):
    from django.contrib.auth.models import Permission

    user = User.objects.create_user(email="staff@example.com", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="clients", codename__in=codenames))
    client.force_login(user)
    return client


def test_staff_who_may_only_view_clients_see_the_numbers_and_cannot_change_them(client, anna_with_two_numbers) -> None:
    anna = anna_with_two_numbers
    viewer = staff_with(client, "view_client")
    url = f"/admin/clients/client/{anna.pk}/change/"
    page = viewer.get(url)
    assert page.status_code == 200
    assert "+7 903 123-45-67" in page.content.decode() or "79031234567" in page.content.decode()
    assert 'name="numbers-0-value"' not in page.content.decode()
    answer = viewer.post(url, client_form(name="Анна", whatsapp_id="79991234567", numbers=[("phone", "79161234567")]))
    assert answer.status_code == 403
    assert numbers(anna) == {("phone", "79991234567"), ("phone", "79031234567")}


def test_staff_who_may_change_clients_may_change_their_numbers(client, anna_with_two_numbers) -> None:
    anna = anna_with_two_numbers
    editor = staff_with(client, "view_client", "change_client")
    answer = editor.post(
        f"/admin/clients/client/{anna.pk}/change/",
        client_form(name="Анна", whatsapp_id="79991234567", numbers=[("phone", "79161234567")]),
    )
    assert answer.status_code == 302
    assert ("phone", "79161234567") in numbers(anna)


def test_a_user_without_client_permissions_sees_no_numbers(client, anna_with_two_numbers) -> None:
    nobody = staff_with(client)
    assert nobody.get(f"/admin/clients/client/{anna_with_two_numbers.pk}/change/").status_code == 403
