"""The client list's searches, orders and deep pages at 100,000 clients: the same rows as ever, each
answered by an index (the plans are checked with the planner's alternatives turned off, since a
handful of test rows would otherwise be read whole)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Client, ClientNumber
from conftest import needs_postgres
from whatsapp.models import Message

pytestmark = pytest.mark.django_db
LIST = "/admin/clients/client/"


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="boss@example.com", password="x")
    client.force_login(user)
    return client


@pytest.fixture
def people() -> dict[str, Client]:
    """Clients each found by one kind of term; latest activity first: Борис, Вера, Анна, Глеб."""
    now = timezone.now()
    people = {
        "Анна": Client.objects.create(name="Анна Смирнова", phone="+7 999 123-45-67", whatsapp_id="79991234567"),
        "Борис": Client.objects.create(name="Борис", whatsapp_id="79990000002"),
        "Вера": Client.objects.create(name="Вера", phone="8 (701) 555-12-12", whatsapp_lid="120650379300963"),
        "Глеб": Client.objects.create(name="Глеб", whatsapp_id="79990000004"),
    }
    ClientNumber.objects.create(client=people["Глеб"], value="77011118287")
    for who, hours_ago, text in [
        ("Борис", 0, "Когда ДОСТАВКА заказа №48213?"),
        ("Вера", 1, "Доставка на вечер, пожалуйста"),
        ("Анна", 2, "Где мой заказ?"),
        ("Глеб", 3, "Спасибо"),
    ]:
        Message.objects.create(
            client=people[who], direction="inbound", content=text, sent_at=now - timedelta(hours=hours_ago)
        )
    return people


def listed(staff, **params: str) -> list[str]:
    """The client list's rows (their names, in order)."""
    answer = staff.get(LIST, params)
    assert answer.status_code == 200
    return [row.name for row in answer.context["cl"].result_list]


CYRILLIC_CASE = needs_postgres("Cyrillic case folding is the database's locale's; SQLite's UPPER folds ASCII only")
SEARCHES = [
    pytest.param("смирнова", ["Анна Смирнова"], marks=CYRILLIC_CASE),  # a name, any case
    ("Смирнова", ["Анна Смирнова"]),
    ("(701)", ["Вера"]),  # the phone as typed
    ("120650379300963@lid", ["Вера"]),  # the lid
    ("8287", ["Глеб"]),  # the end of another number
    ("+7 999 123-45-67", ["Анна Смирнова"]),  # a whole number, written any way
    pytest.param("доставка", ["Борис", "Вера"], marks=CYRILLIC_CASE),  # what they wrote, latest activity first
    ("№48213", ["Борис"]),  # a rare word
    ("пришёл 7", []),  # a word nobody wrote
    ("заказ", ["Борис", "Анна Смирнова"]),
]


@pytest.mark.parametrize(("term", "names"), SEARCHES)
@pytest.mark.parametrize("collect_max", [5000, 0], ids=["writers collected", "each client probed"])
def test_every_kind_of_term_finds_the_same_clients_however_the_writers_are_found(
    staff, people, monkeypatch, term: str, names: list[str], collect_max: int
) -> None:
    monkeypatch.setattr("whatsapp.admin.TEXT_SEARCH_COLLECT_MAX", collect_max)
    assert listed(staff, q=term) == names


@needs_postgres("the writers are collected while PostgreSQL's planner expects few of them")
def test_the_writers_of_a_rare_word_are_sent_as_one_array(staff, people) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert listed(staff, q="доставка") == ["Борис", "Вера"]
    page = next(q["sql"] for q in queries if q["sql"].startswith('SELECT "clients"') and "ORDER BY" in q["sql"])
    assert '"client_activity"."client_id" = ANY(' in page
    assert 'FROM "messages"' not in page, "the writers are collected first, not a subquery of every client"
    assert "UPPER(" not in page, "the name's and phone's matches are collected too: one list of ids"


def plan(sql: str, *, off: tuple[str, ...] = ("enable_seqscan",)) -> str:
    with connection.cursor() as cursor:
        for setting in off:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def the_page_query(staff, **params: str) -> str:
    """The query of the list's rows, as a first page of a long list runs it (a short one has no LIMIT)."""
    with CaptureQueriesContext(connection) as queries:
        staff.get(LIST, params)
    sql = next(q["sql"] for q in queries if q["sql"].startswith('SELECT "clients"') and "ORDER BY" in q["sql"])
    return sql if "LIMIT" in sql else sql + " LIMIT 50"


@needs_postgres("the plan is PostgreSQL's")
def test_a_word_almost_nobody_wrote_is_answered_by_an_index_for_each_part_of_the_search(staff, people) -> None:
    """Name, phone as typed and lid each have an index, so PostgreSQL ORs their bitmaps to collect
    who matches; the page then finds those and the writers by the activity's primary key. Without
    an index for each, it reads every client to test each (2 s at 100,000)."""
    Message.objects.create(client=people["Глеб"], direction="inbound", content="Он пришёл 7-го")
    with CaptureQueriesContext(connection) as queries:
        assert listed(staff, q="пришёл 7") == ["Глеб"]
    named = next(q["sql"] for q in queries if q["sql"].startswith('SELECT "clients"."id" AS "pk" FROM "clients" WHERE'))
    shown = plan(named, off=("enable_seqscan", "enable_indexscan"))
    assert "BitmapOr" in shown, shown
    for index in ("clients_name_trgm", "clients_phone_trgm", "clients_whatsapp_lid"):
        assert f"Bitmap Index Scan on {index}" in shown, shown
    assert "Seq Scan" not in shown, shown
    page = plan(the_page_query(staff, q="пришёл 7"), off=("enable_seqscan",))
    assert "client_activity_pkey" in page or "client_activity_latest_first" in page, page
    assert "Seq Scan" not in page, page


@pytest.mark.parametrize(
    ("order", "names"),
    [
        ("1", ["Анна Смирнова", "Борис", "Вера", "Глеб"]),
        ("-1", ["Глеб", "Вера", "Борис", "Анна Смирнова"]),
        ("-3", ["Борис", "Анна Смирнова", "Вера", "Глеб"]),  # two messages first, then latest activity
        ("3", ["Вера", "Глеб", "Борис", "Анна Смирнова"]),
    ],
)
def test_the_list_sorts_by_name_and_by_messages_ties_by_latest_activity(staff, people, order, names) -> None:
    for who in ("Борис", "Анна"):  # two messages each; older than their latest, so the order stays
        Message.objects.create(
            client=people[who], direction="outbound", content="Да", sent_at=timezone.now() - timedelta(days=1)
        )
    assert listed(staff, o=order) == names


@needs_postgres("the plan is PostgreSQL's")
@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({}, "client_activity_latest_first"),
        ({"o": "1"}, "clients_by_name"),
        ({"o": "-3"}, "client_activity_by_message_count"),
    ],
)
def test_each_order_is_read_from_an_index_in_that_order_without_sorting(staff, people, params, index) -> None:
    shown = plan(the_page_query(staff, **params), off=("enable_seqscan", "enable_bitmapscan", "enable_sort"))
    assert index in shown, shown
    assert not re.search(r"(^|->  )Sort  ", shown, re.MULTILINE), shown
    # By name, the tie-break (the latest activity) is the activity's: only equal names are sorted.
    if "Incremental Sort" in shown:
        assert "Presorted Key: clients.name" in shown, shown


@pytest.fixture
def many() -> list[Client]:
    """130 clients (three pages of 50), each written at its own minute."""
    now = timezone.now()
    clients = Client.objects.bulk_create(
        Client(name=f"Клиент {n:03d}", whatsapp_id=f"7999100{n:04d}") for n in range(130)
    )
    Message.objects.bulk_create(
        Message(client=c, direction="inbound", content="Здравствуйте", sent_at=now - timedelta(minutes=n))
        for n, c in enumerate(clients)
    )
    return clients


@pytest.mark.parametrize("params", [{}, {"o": "1"}, {"o": "-3"}, {"o": "4"}, {"o": "-4"}, {"q": "Клиент"}])
def test_a_deep_page_shows_the_rows_a_shallow_read_would(staff, many, monkeypatch, params) -> None:
    pages = {}
    for deferred in (10**9, 0):
        monkeypatch.setattr("crm.paginator.DEFERRED_OFFSET", deferred)
        pages[deferred] = [listed(staff, p=str(p), **params) for p in (1, 2, 3)]
    assert pages[0] == pages[10**9]
    assert [len(page) for page in pages[0]] == [50, 50, 30]
    assert len({name for page in pages[0] for name in page}) == 130


@needs_postgres("the plan is PostgreSQL's")
def test_a_deep_pages_ids_come_from_the_index_alone(staff, many, monkeypatch) -> None:
    monkeypatch.setattr("crm.paginator.DEFERRED_OFFSET", 50)
    with CaptureQueriesContext(connection) as queries:
        assert listed(staff, p="3")[0] == "Клиент 100"
    # From the activity's index alone: no probe of the clients for every row skipped.
    ids = next(q["sql"] for q in queries if q["sql"].startswith('SELECT "client_activity"."client_id"'))
    assert "OFFSET 100" in ids
    assert '"clients"' not in ids, ids
    shown = plan(ids, off=("enable_seqscan", "enable_bitmapscan", "enable_sort"))
    assert "Index Only Scan using client_activity_latest_first" in shown, shown
