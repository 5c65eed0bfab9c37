"""The admin staff live in: the conversation page, the client list, search, export, merge, index."""

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from clients.models import Client
from clients.tests.forms import client_form
from conftest import payload, postgres_only
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
    answer = staff.post("/admin/clients/client/add/", client_form(name="Игорь", phone="8 (916) 111-22-33"))
    assert answer.status_code == 302
    igor = Client.objects.get(name="Игорь")
    assert igor.whatsapp_id == "79161112233"
    body = payload("incomingMessageReceived.textMessage.json")
    body["senderData"]["chatId"] = body["senderData"]["sender"] = "79161112233@c.us"
    post_webhook(body)
    assert Client.objects.count() == 1
    assert igor.messages.count() == 1


def test_a_duplicate_number_is_a_form_error_naming_the_client(staff, anna) -> None:
    answer = staff.post("/admin/clients/client/add/", client_form(name="Twin", whatsapp_id="8 999 123 45 67"))
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


# -------------------------------------------------------------------------------------------------
# Pages that answered 500, and permissions per role.


def staff_with(client, *codenames: str):
    """A logged-in staff member holding exactly these permissions (`clients.view_client`, …)."""
    from django.contrib.auth.models import Permission

    user = User.objects.create_user(email="staff@example.com", password="pw", is_staff=True)
    for codename in codenames:
        app_label, name = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=name))
    client.force_login(user)
    return client


def test_a_message_opens_and_one_can_be_added_by_hand(staff, anna) -> None:
    message = anna.messages.first()
    assert staff.get(f"/admin/whatsapp/message/{message.pk}/change/").status_code == 200
    assert staff.get("/admin/whatsapp/message/add/").status_code == 200
    answer = staff.post(
        "/admin/whatsapp/message/add/",
        {
            "client": anna.pk,
            "channel": "whatsapp",
            "direction": "inbound",
            "type_message": "textMessage",
            "content": "записано вручную",
            "status": "received",
            "previous_contents": "[]",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    added = Message.objects.get(content="записано вручную")
    assert added.client == anna
    assert added.sent_at is not None


def test_a_bad_before_on_a_client_page_is_said_and_ignored(staff, anna) -> None:
    answer = staff.get(change_url(anna), {"before": "2024-13-01T00:00:00"})
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "“2024-13-01T00:00:00” is not a date and time" in page
    assert page.count('class="bubble') == 3


@pytest.mark.parametrize("view", ["export", "send"])
def test_export_and_send_of_an_id_that_is_not_a_uuid_are_404(staff, view: str) -> None:
    answer = (staff.get if view == "export" else staff.post)(f"/admin/clients/client/not-a-uuid/{view}/")
    assert answer.status_code == 404
    assert not Message.objects.exists()


def test_merge_needs_change_and_delete_permission_on_clients(client, anna) -> None:
    twin = Client.objects.create(name="twin", whatsapp_lid="120650379300963")
    merge = {"action": "merge", "_selected_action": [anna.pk, twin.pk], "keep": str(anna.pk)}
    staff_with(client, "clients.view_client", "clients.change_client")
    assert 'value="merge"' not in client.get("/admin/clients/client/").content.decode()
    assert client.post("/admin/clients/client/", merge).status_code in (302, 403)
    assert Client.objects.filter(pk=twin.pk).exists()


def test_merge_is_offered_to_staff_who_may_change_and_delete_clients(client, anna) -> None:
    twin = Client.objects.create(name="twin", whatsapp_lid="120650379300963")
    staff_with(client, "clients.view_client", "clients.change_client", "clients.delete_client")
    assert 'value="merge"' in client.get("/admin/clients/client/").content.decode()
    merge = {"action": "merge", "_selected_action": [anna.pk, twin.pk], "keep": str(anna.pk)}
    assert client.post("/admin/clients/client/", merge).status_code == 302
    assert not Client.objects.filter(pk=twin.pk).exists()


def test_the_merge_view_refuses_who_may_not_delete_even_when_called_directly(rf, anna) -> None:
    from django.contrib import admin
    from django.core.exceptions import PermissionDenied

    from clients import admin_views

    request = rf.post("/admin/clients/client/", {"keep": str(anna.pk)})
    request.user = User.objects.create_user(email="editor@example.com", password="pw", is_staff=True)
    model_admin = admin.site._registry[Client]
    with pytest.raises(PermissionDenied):
        admin_views.merge(model_admin, request, model_admin.get_queryset(request))


def test_without_the_send_permission_there_is_no_reply_box_and_sending_is_refused(client, anna, fake_greenapi) -> None:
    staff_with(client, "clients.view_client", "clients.change_client", "whatsapp.view_message")
    page = client.get(change_url(anna)).content.decode()
    assert "Курьер будет через час" in page
    assert "Reply on WhatsApp" not in page
    before = Message.objects.count()
    assert client.post(f"/admin/clients/client/{anna.pk}/send/", {"text": "Не надо"}).status_code == 403
    assert Message.objects.count() == before
    assert fake_greenapi.sent == []


def test_with_the_send_permission_staff_reply(client, anna, fake_greenapi) -> None:
    staff_with(client, "clients.view_client", "whatsapp.view_message", "whatsapp.send_message")
    assert "Reply on WhatsApp" in client.get(change_url(anna)).content.decode()
    answer = client.post(f"/admin/clients/client/{anna.pk}/send/", {"text": "Отправлено"})
    assert answer.status_code == 302
    assert Message.objects.get(content="Отправлено").status == "sent"


def test_the_conversation_needs_permission_to_view_messages(client, anna) -> None:
    staff_with(client, "clients.view_client")
    page = client.get(change_url(anna)).content.decode()
    assert "Курьер будет через час" not in page
    assert "needs the permission" in page
    assert client.get(f"/admin/clients/client/{anna.pk}/export/").status_code == 403


@pytest.mark.parametrize(
    "url", ["javascript:alert(document.cookie)", "data:text/html,<script>x</script>", " javascript:x"]
)
def test_a_file_link_that_is_not_http_is_shown_as_text(staff, anna, url: str) -> None:
    message = Message.objects.create(
        client=anna, direction="inbound", type_message="documentMessage", media_url=url, file_name="invoice.pdf"
    )
    for page in (staff.get(change_url(anna)), staff.get(f"/admin/whatsapp/message/{message.pk}/change/")):
        body = page.content.decode()
        assert not re.search(r'href="\s*(javascript|data):', body)
        assert "invoice.pdf" in body


def test_an_http_file_link_is_a_link_in_the_conversation_and_the_message(staff, anna) -> None:
    url = "https://sw-media-1103.storage.yandexcloud.net/1103123456/doc.pdf"
    message = Message.objects.create(client=anna, direction="inbound", media_url=url, file_name="doc.pdf")
    assert f'href="{url}"' in staff.get(change_url(anna)).content.decode()
    assert f'href="{url}"' in staff.get(f"/admin/whatsapp/message/{message.pk}/change/").content.decode()


# -------------------------------------------------------------------------------------------------
# The conversation in WhatsApp's time.


def test_each_bubble_shows_whatsapps_time_and_a_late_redelivery_takes_its_place(staff, anna) -> None:
    written = timezone.now() - timedelta(hours=5)
    Message.objects.create(
        client=anna, direction="inbound", content="написано до сбоя", sent_at=written, external_id="LATE0000000001"
    )
    page = staff.get(change_url(anna)).content.decode()
    assert page.index("написано до сбоя") < page.index("Где мой заказ"), "in WhatsApp's order, not arrival's"
    local = timezone.localtime(written)
    assert local.strftime("%d %b %Y %H:%M") in page


def test_paging_back_reaches_every_message_once_even_within_one_second(staff, anna) -> None:
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            client=anna,
            direction="inbound",
            content=f"m{i:03d}.",
            external_id=f"SAME{i:012d}",
            sent_at=now - timedelta(days=1, seconds=i // 40),  # 40 messages in each WhatsApp second
            created_at=now - timedelta(days=1, seconds=i),
        )
        for i in range(130)
    )
    seen, url = [], change_url(anna)
    while url:
        page = staff.get(url).content.decode()
        seen += [m for m in re.findall(r"m\d{3}\.", page) if m not in seen[-200:]]
        older = re.search(r'href="(\?before=[^"#]*)', page)
        url = change_url(anna) + html.unescape(older[1]) if older else None
    assert sorted(seen) == sorted(f"m{i:03d}." for i in range(130))
    assert len(seen) == 130


@postgres_only
def test_the_conversation_is_read_from_its_index_without_sorting(staff, anna) -> None:
    from django.db import connection

    from whatsapp.admin_views import _page

    with connection.cursor() as cursor:
        # A handful of rows would be read whole; with the alternatives off, a plan without a sort
        # exists only if the index serves the order (as it must at a million messages).
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        for before, received in [(None, None), (timezone.now(), timezone.now())]:
            sql, params = _page(anna, before, received)[:51].query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "messages_client_sent" in plan, plan
            assert "Sort" not in plan, plan


# -------------------------------------------------------------------------------------------------
# What a new user tripped on.


def test_message_types_read_as_words_and_filter_and_search_by_green_apis_name(staff, anna) -> None:
    Message.objects.create(client=anna, direction="inbound", type_message="imageMessage", content="🖼 Photo")
    Message.objects.filter(content__startswith="Здравствуйте").update(type_message="textMessage")
    page = staff.get("/admin/whatsapp/message/").content.decode()
    assert '<td class="field-type">Image</td>' in page
    assert '<td class="field-type">Text</td>' in page
    assert "?type_message=imageMessage" in page
    filtered = staff.get("/admin/whatsapp/message/", {"type_message": "imageMessage"}).content.decode()
    assert "🖼 Photo" in filtered
    assert "Где мой заказ" not in filtered
    searched = staff.get("/admin/whatsapp/message/", {"q": "imageMessage"}).content.decode()
    assert "🖼 Photo" in searched
    assert "Где мой заказ" not in searched


def test_filter_choices_are_written_alike(staff, anna) -> None:
    page = staff.get("/admin/whatsapp/message/").content.decode()
    assert "No WhatsApp account" in page
    assert "Yellow card (spam)" in page
    assert "Waiting for its message" in staff.get("/admin/whatsapp/notification/").content.decode()


def test_notifications_are_read_only_and_an_instance_only_takes_its_business_hours(staff, post_webhook) -> None:
    from whatsapp.models import Instance, Notification

    post_webhook(payload("stateInstanceChanged.authorized.json"))
    page = staff.get(f"/admin/whatsapp/notification/{Notification.objects.get().pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert "authorized" in page
    # What Green API reported is shown, never a field; the business hours are (whatsapp/hours.py).
    page = staff.get(f"/admin/whatsapp/instance/{Instance.objects.get().pk}/change/").content.decode()
    assert "authorized" in page
    assert 'name="state"' not in page
    assert 'name="wid"' not in page
    assert 'name="id_instance"' not in page
    assert 'name="time_zone"' in page
    assert 'name="auto_reply_enabled"' in page


def test_the_site_root_leads_to_the_admin_and_no_view_site_link_goes_round(staff) -> None:
    answer = staff.get("/")
    assert answer.status_code == 302
    assert answer["Location"] == "/admin/"
    assert "View site" not in staff.get("/admin/").content.decode()


def test_the_reply_box_keeps_to_the_send_limit(staff, anna, fake_greenapi) -> None:
    from django.core.cache import cache

    cache.clear()
    before = Message.objects.count()
    for _ in range(30):  # SEND_RATE_PER_USER's default, 30/min, counted with the API's sends
        staff.post(f"/admin/clients/client/{anna.pk}/send/", {"text": "Спасибо!"})
    answer = staff.post(f"/admin/clients/client/{anna.pk}/send/", {"text": "Лишнее"}, follow=True)
    assert "too many messages" in answer.content.decode()
    assert (Message.objects.count() - before, len(fake_greenapi.sent)) == (30, 30)


def test_the_count_beside_the_search_box_shows_only_while_a_search_is_on(staff, anna) -> None:
    """Counted by estimate, Django would say "N results (Show all)" on every unfiltered page."""
    assert "Show all" not in staff.get("/admin/clients/client/").content.decode()
    searched = staff.get("/admin/clients/client/", {"q": "Анна"}).content.decode()
    assert "1 result (" in searched
    assert "Show all" in searched
