"""The admin's lists at a business's size: searches by index, counts that cost nothing, known filters."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import Client, ClientNumber
from conftest import needs_postgres
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="boss@example.com", password="x")
    client.force_login(user)
    return client


def found(staff, url: str, term: str) -> str:
    answer = staff.get(url, {"q": term})
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.mark.parametrize("typed", ["4567", "123-45-67", "+7 701 123-45-67", "87011234567"])
def test_a_client_is_found_by_an_extra_number_whole_or_by_its_end(staff, typed: str) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79990000001")
    ClientNumber.objects.create(client=anna, value="77011234567")
    Client.objects.create(name="Other", whatsapp_id="79994567000")
    page = found(staff, "/admin/clients/client/", typed)
    assert "Анна" in page
    assert "Other" not in page, "the digits are the number's end, not anywhere in it"


@needs_postgres("Cyrillic case folding is the database's locale's; SQLite's UPPER folds ASCII only")
def test_message_text_search_folds_cyrillic_case(staff) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79990000001")
    Message.objects.create(client=anna, direction="inbound", content="Когда ДОСТАВКА заказа?")
    Client.objects.create(name="Other", whatsapp_id="79990000002")
    assert "Анна" in found(staff, "/admin/clients/client/", "доставка")
    assert "Other" not in found(staff, "/admin/clients/client/", "доставка")
    assert "Когда ДОСТАВКА" in found(staff, "/admin/whatsapp/message/", "доставка")
    assert "Когда ДОСТАВКА" in found(staff, "/admin/whatsapp/message/", "+7 999 000-00-01")


@needs_postgres("the estimate is PostgreSQL's planner's")
def test_a_list_past_the_exact_count_limit_shows_about_the_count(staff, settings) -> None:
    settings.ADMIN_EXACT_COUNT_LIMIT = 1
    anna = Client.objects.create(name="Анна", whatsapp_id="79990000001")
    Message.objects.bulk_create([Message(client=anna, direction="inbound", content=str(n)) for n in range(3)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messages")
    page = staff.get("/admin/whatsapp/message/").content.decode()
    assert "about 3 messages" in page


def test_a_small_list_counts_exactly(staff) -> None:
    anna = Client.objects.create(name="Анна", whatsapp_id="79990000001")
    Message.objects.bulk_create([Message(client=anna, direction="inbound", content=str(n)) for n in range(3)])
    assert "3 messages" in staff.get("/admin/whatsapp/message/").content.decode()


def test_the_filters_choices_are_known_not_read_from_every_row(staff) -> None:
    with CaptureQueriesContext(connection) as queries:
        for url in ("/admin/whatsapp/message/", "/admin/whatsapp/notification/"):
            page = staff.get(url).content.decode()
            assert page.count("?type_") > 5, url
    assert not [q["sql"] for q in queries if "DISTINCT" in q["sql"].upper()]


@needs_postgres("WITH HOLD cursors are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_an_export_of_every_message_reads_them_as_it_sends_them(staff) -> None:
    """A cursor held past its transaction is built whole before the first row (3,000,000 rows: never)."""
    anna = Client.objects.create(name="Анна", whatsapp_id="79990000001")
    Message.objects.bulk_create([Message(client=anna, direction="inbound", content=str(n)) for n in range(5000)])
    answer = staff.post(
        "/admin/whatsapp/message/",
        {"action": "export_csv", "select_across": "1", "index": "0", "_selected_action": "x"},
    )
    assert answer.status_code == 200
    chunks = iter(answer.streaming_content)
    assert next(chunks).startswith("\ufeffid,client".encode())
    first = next(chunks)  # the first rows: the cursor is open
    with connection.cursor() as cursor:
        cursor.execute("SELECT is_holdable FROM pg_cursors")
        assert cursor.fetchall() == [(False,)]
    rows = first.count(b"\n") + sum(chunk.count(b"\n") for chunk in chunks)
    assert 0 < first.count(b"\n") < rows == 5000


def test_a_client_is_found_by_its_lid(staff) -> None:
    Client.objects.create(name="Скрытый", whatsapp_lid="120650379300963")
    assert "Скрытый" in found(staff, "/admin/clients/client/", "120650379300963")
    assert "Скрытый" in found(staff, "/admin/clients/client/", "120650379300963@lid")


@needs_postgres("the plan is PostgreSQL's")
def test_a_common_word_is_probed_client_by_client_in_the_lists_order(staff, monkeypatch) -> None:
    """Past TEXT_SEARCH_COLLECT_MAX messages (the planner's estimate) the writers of a word are not
    collected: each client of the page is probed in activity order, and the page stops when full."""
    monkeypatch.setattr("whatsapp.admin.TEXT_SEARCH_COLLECT_MAX", 0)
    for n in range(6):
        client = Client.objects.create(name=f"Клиент {n}", whatsapp_id=f"7999000000{n}")
        text = "Когда ДОСТАВКА заказа?" if n % 2 else "Спасибо"
        Message.objects.create(client=client, direction="inbound", content=text)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messages")
    with CaptureQueriesContext(connection) as queries:
        page = found(staff, "/admin/clients/client/", "доставка")
    assert [n for n in range(6) if f"Клиент {n}<" in page] == [1, 3, 5]
    assert page.index("Клиент 5") < page.index("Клиент 3") < page.index("Клиент 1"), "latest activity first"
    listed = next(q["sql"] for q in queries if q["sql"].startswith('SELECT "clients"') and "LIMIT" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + listed)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "SubPlan" in plan
    assert "hashed SubPlan" not in plan, plan
