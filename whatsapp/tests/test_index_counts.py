"""The admin index's counts of today and the last 7 days: exact up to ADMIN_EXACT_COUNT_LIMIT, never
counting further (a busy week is hundreds of thousands of rows), read from one index."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Client
from conftest import needs_postgres
from whatsapp.models import Message
from whatsapp.stats import dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(db) -> None:
    """Today: 3 inbound, 1 outbound; four days ago: 2 more inbound, 1 outbound; last month: 5 of each."""
    anna = Client.objects.create(name="Анна", whatsapp_id="79991234567")
    now = timezone.now()
    for age, inbound, outbound in [(timedelta(0), 3, 1), (timedelta(days=4), 2, 1), (timedelta(days=30), 5, 5)]:
        made = Message.objects.bulk_create(
            [Message(client=anna, direction="inbound", content="?") for _ in range(inbound)]
            + [Message(client=anna, direction="outbound", content="!") for _ in range(outbound)]
        )
        Message.objects.filter(pk__in=[m.pk for m in made]).update(created_at=now - age)


def test_the_index_counts_today_and_the_week_by_direction(week) -> None:
    counts = dashboard()["messages"]
    assert counts == {"inbound": {"today": "3", "week": "5"}, "outbound": {"today": "1", "week": "2"}}


def test_past_the_limit_a_count_stops_one_row_past_it(week, settings) -> None:
    settings.ADMIN_EXACT_COUNT_LIMIT = 2
    with CaptureQueriesContext(connection) as queries:
        counts = dashboard()["messages"]
    assert counts["outbound"] == {"today": "1", "week": "2"}
    for shown in (counts["inbound"]["today"], counts["inbound"]["week"]):
        assert shown.startswith(("about ", "more than 2")), shown
    counted = [q["sql"] for q in queries if "COUNT(*)" in q["sql"] and '"messages"' in q["sql"]]
    assert len(counted) == 4
    assert all("LIMIT 3" in sql for sql in counted), counted


@needs_postgres("the plan is PostgreSQL's")
def test_the_counts_are_read_from_the_index_alone(week) -> None:
    with CaptureQueriesContext(connection) as queries:
        dashboard()
    counted = [q["sql"] for q in queries if "COUNT(*)" in q["sql"] and '"messages"' in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messages")
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        for sql in counted:
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Index Only Scan using messages_created_order" in plan, plan
