"""A client's conversation as CSV: every message once, oldest first, cells a spreadsheet keeps as
text; sent in chunks of many rows (a chunk a row made the busiest client's export slow), the header
first on its own so the download starts at once."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from crm.csv_export import BOM, CHUNK_CHARS
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="boss@example.com", password="x")
    client.force_login(user)
    return client


@pytest.fixture
def anna() -> Client:
    return Client.objects.create(name="=Анна", whatsapp_id="79991234567")


def exported(staff, client: Client) -> tuple[list[bytes], list[list[str]]]:
    answer = staff.get(f"/admin/clients/client/{client.pk}/export/")
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="conversation-79991234567.csv"'
    chunks = list(answer.streaming_content)
    text = b"".join(chunks).decode("utf-8")
    assert text.startswith(BOM)
    return chunks, list(csv.reader(io.StringIO(text.removeprefix(BOM))))


def test_the_conversation_csv_has_every_message_oldest_first_with_cells_kept_as_text(staff, anna) -> None:
    start = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    texts = ["Здравствуйте, заказ №1", '=HYPERLINK("x")', "+7 999 123-45-67", 'строка 1\nстрока 2, «кавычки» ""', ""]
    for n, text in enumerate(texts):
        message = Message.objects.create(
            client=anna, direction="inbound" if n % 2 else "outbound", content=text, external_id=f"ID{n}"
        )
        Message.objects.filter(pk=message.pk).update(created_at=start + timedelta(minutes=n))
    Client.objects.create(name="Другой", whatsapp_id="79990000002").messages.create(direction="inbound", content="x")
    chunks, rows = exported(staff, anna)
    assert rows[0] == ["id", "client", "client_whatsapp_id", "direction", "type", "status", "content",
                       "media_url", "external_id", "created_at", "author", "author_whatsapp_id"]  # fmt: skip
    kept = ["Здравствуйте, заказ №1", '\'=HYPERLINK("x")', "'+7 999 123-45-67", texts[3], ""]
    assert [row[6] for row in rows[1:]] == kept
    assert [row[8] for row in rows[1:]] == [f"ID{n}" for n in range(5)]
    assert {row[1] for row in rows[1:]} == {"'=Анна"}
    assert rows[1][9] == "2024-01-15T10:30:00+00:00"
    assert rows[2][3] == "inbound"
    assert chunks[0] == (BOM + ",".join(rows[0]) + "\r\n").encode(), "the header alone, at once"


def test_a_long_conversation_is_sent_in_chunks_of_many_rows_read_by_one_query(staff, anna) -> None:
    Message.objects.bulk_create(
        Message(client=anna, direction="inbound", content=f"{n:05d} " + "доставка " * 20) for n in range(2000)
    )
    with CaptureQueriesContext(connection) as queries:
        chunks, rows = exported(staff, anna)
    assert sorted(row[6][:5] for row in rows[1:]) == [f"{n:05d}" for n in range(2000)]
    assert 3 < len(chunks) < 2000 / 10, "many rows a chunk, and more than one chunk"
    assert all(len(chunk.decode()) < 2 * CHUNK_CHARS for chunk in chunks)
    reads = [q["sql"] for q in queries if 'FROM "messages"' in q["sql"]]
    assert len(reads) == 1, reads
