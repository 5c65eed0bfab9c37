"""The admin staff live in: the conversation page, the client list, search, export, merge, index."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from clients.models import Client
from conftest import payload
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser(email="boss@example.com", password="pw")
    client.force_login(user)
    return client


@pytest.fixture
def anna() -> Client:
    anna = Client.objects.create(name="Анна", phone="+7 999 123-45-67", whatsapp_id="79991234567")
    now = timezone.now()
    for i, (direction, status, text) in enumerate(
        [
            ("inbound", "received", "Здравствуйте! Где мой заказ? 🚚"),
            ("outbound", "read", "Курьер будет через час"),
            ("outbound", "failed", "Повторите, пожалуйста"),
        ]
    ):
        Message.objects.create(
            client=anna,
            direction=direction,
            status=status,
            content=text,
            external_id=f"ANNA{i:016d}",
            sent_at=now - timedelta(minutes=10 - i),
            created_at=now - timedelta(minutes=10 - i),
            status_description="SWE004: 1000" if status == "failed" else "",
        )
    return anna


def change_url(client: Client) -> str:
    return f"/admin/clients/client/{client.pk}/change/"


def test_the_clients_page_is_the_conversation_in_time_order(staff, anna) -> None:
    page = staff.get(change_url(anna)).content.decode()
    first, second, third = (page.index(t) for t in ["Где мой заказ", "Курьер будет через час", "Повторите"])
    assert first < second < third
    assert "status-read" in page
    assert "✗ Failed" in page
    assert "SWE004: 1000" in page
    assert 'name="text"' in page
    assert "Reply on WhatsApp" in page


def test_media_quotes_edits_deletions_and_reactions_are_recognisable(staff, anna) -> None:
    Message.objects.create(
        client=anna,
        direction="inbound",
        content="Реквизиты",
        media_url="https://media.example/doc.pdf",
        file_name="Счёт.pdf",
        mime_type="application/pdf",
        external_id="DOC0000000000001",
        quoted_external_id="ANNA0000000000000001",
        previous_contents=["Реквизит"],
        edited_at=timezone.now(),
        reaction="👍",
    )
    Message.objects.filter(external_id="ANNA0000000000000000").update(deleted_at=timezone.now())
    page = staff.get(change_url(anna)).content.decode()
    assert 'href="https://media.example/doc.pdf"' in page
    assert "📎 Счёт.pdf" in page
    assert "↪ Курьер будет через час" in page
    assert "edited" in page
    assert "👍" in page
    assert "deleted by the sender" in page


def test_a_long_thread_is_bounded_and_pages_back(staff, anna, django_assert_max_num_queries) -> None:
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                client=anna,
                direction="inbound",
                content=f"m{i}",
                external_id=f"BULK{i:016d}",
                sent_at=now - timedelta(days=1, seconds=i),
                created_at=now - timedelta(days=1, seconds=i),
            )
            for i in range(500)
        ]
    )
    with django_assert_max_num_queries(20):
        page = staff.get(change_url(anna)).content.decode()
    assert page.count('class="bubble') == 50
    assert "older messages" in page
    older = page.split('href="?before=')[1].split('#thread"')[0].replace("&amp;", "&")
    assert staff.get(change_url(anna) + "?before=" + older).content.decode().count('class="bubble') == 50


def test_client_list_shows_activity_and_sorts_by_latest(staff, anna, django_assert_max_num_queries) -> None:
    quiet = Client.objects.create(name="Тихий", whatsapp_id="79990000001")
    Message.objects.create(
        client=quiet,
        direction="inbound",
        content="давно",
        external_id="OLD0000000000001",
        sent_at=timezone.now() - timedelta(days=30),
    )
    for i in range(30):
        Client.objects.create(name=f"C{i}", whatsapp_id=f"7998000{i:04d}")
    with django_assert_max_num_queries(12):
        page = staff.get("/admin/clients/client/").content.decode()
    assert page.index("Анна") < page.index("Тихий"), "latest activity first"
    assert "+7 999 123-45-67" in page
    assert "Повторите, пожалуйста" in page, "preview of the last message"


@pytest.mark.parametrize(
    "typed", ["+7 999 123-45-67", "8 (999) 123-45-67", "9991234567", "79991234567", "Анна", "мой заказ"]
)
def test_search_forgives_formats_and_reads_messages(staff, anna, typed: str) -> None:
    Client.objects.create(name="Other", whatsapp_id="5511987654321")
    page = staff.get("/admin/clients/client/", {"q": typed}).content.decode()
    assert "Анна" in page
    assert "Other" not in page


def test_a_client_created_by_hand_is_found_by_the_next_webhook(staff, post_webhook) -> None:
    answer = staff.post(
        "/admin/clients/client/add/", {"name": "Игорь", "phone": "8 (916) 111-22-33", "whatsapp_id": ""}
    )
    assert answer.status_code == 302
    igor = Client.objects.get(name="Игорь")
    assert igor.whatsapp_id == "79161112233"
    body = payload("incomingMessageReceived.textMessage.json")
    body["senderData"]["chatId"] = body["senderData"]["sender"] = "79161112233@c.us"
    post_webhook(body)
    assert Client.objects.count() == 1
    assert igor.messages.count() == 1


def test_a_duplicate_number_is_a_form_error_naming_the_client(staff, anna) -> None:
    answer = staff.post("/admin/clients/client/add/", {"name": "Twin", "phone": "", "whatsapp_id": "8 999 123 45 67"})
    assert answer.status_code == 200
    assert "already has the WhatsApp number +7 999 123-45-67" in answer.content.decode()
    assert "Анна" in answer.content.decode()
    assert Client.objects.count() == 1


def test_export_clients_and_messages_as_csv_for_a_spreadsheet(staff, anna) -> None:
    answer = staff.post("/admin/clients/client/", {"action": "export_csv", "_selected_action": [anna.pk]})
    raw = b"".join(answer.streaming_content)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "name", "phone"]
    assert rows[1][1] == "Анна"
    assert rows[1][2] == "'+7 999 123-45-67"
    ids = list(Message.objects.values_list("pk", flat=True))
    answer = staff.post("/admin/whatsapp/message/", {"action": "export_csv", "_selected_action": ids})
    text = b"".join(answer.streaming_content).decode("utf-8-sig")
    assert "Здравствуйте! Где мой заказ? 🚚" in text
    assert answer["Content-Disposition"] == 'attachment; filename="messages.csv"'


def test_merge_moves_every_message_to_the_client_kept(staff, anna) -> None:
    twin = Client.objects.create(name="", whatsapp_lid="120650379300963")
    Message.objects.create(client=twin, direction="inbound", content="from lid", external_id="LID0000000000001")
    confirm = staff.post("/admin/clients/client/", {"action": "merge", "_selected_action": [anna.pk, twin.pk]})
    assert "Merge clients" in confirm.content.decode()
    done = staff.post(
        "/admin/clients/client/",
        {"action": "merge", "_selected_action": [anna.pk, twin.pk], "keep": str(anna.pk)},
    )
    assert done.status_code == 302
    assert not Client.objects.filter(pk=twin.pk).exists()
    anna.refresh_from_db()
    assert anna.messages.count() == 4
    assert anna.whatsapp_lid == "120650379300963"


def test_index_shows_todays_numbers_and_the_state(staff, anna, post_webhook) -> None:
    post_webhook(payload("stateInstanceChanged.authorized.json"))
    page = staff.get("/admin/").content.decode()
    assert "WhatsApp at a glance" in page
    assert "1103123456: authorized" in page
    assert "stateInstanceChanged" in page
    assert "?direction=inbound" in page


def test_reply_from_the_admin_goes_through_green_api(staff, anna, fake_greenapi) -> None:
    answer = staff.post(f"/admin/clients/client/{anna.pk}/send/", {"text": "Спасибо за заказ!"}, follow=True)
    assert "Sent to Анна" in answer.content.decode()
    assert fake_greenapi.sent[0]["message"] == "Спасибо за заказ!"
    assert Message.objects.get(content="Спасибо за заказ!").status == "sent"


def test_a_refused_reply_shows_the_reason_and_is_kept_as_failed(staff, anna, fake_greenapi) -> None:
    fake_greenapi.fail_with = 466
    answer = staff.post(f"/admin/clients/client/{anna.pk}/send/", {"text": "Ещё раз"}, follow=True)
    assert "Not sent: Green API&#x27;s quota is used up" in answer.content.decode()
    assert Message.objects.get(content="Ещё раз").status == "failed"
