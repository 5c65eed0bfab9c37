"""A member of staff in a real browser (headless Chromium): find a client by a number written another
way, read the conversation, reply through (a local) Green API, export CSV. Screenshots of the run go
to docs/screenshots/."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from accounts.models import User
from clients.models import Client
from whatsapp.models import Message

CHROMIUM = "/usr/bin/chromium"
# The committed screenshots are refreshed with `SCREENSHOTS=1 ./scripts/test -k browser`; other runs
# take theirs into pytest's temporary directory, leaving the work tree as it was.
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes between
    # its steps are ordinary synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                ],
            )
            yield browser
            browser.close()
    finally:
        # Not for anything after these tests (check --deploy rightly refuses it in the environment).
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    User.objects.create_superuser(email="staff@example.com", password="a-long-staff-password")
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "staff@example.com")
    page.fill("#id_password", "a-long-staff-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#inbox-rows", state="attached")  # staff land in the inbox
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#dashboard")
    yield page
    context.close()


@pytest.fixture
def anna() -> Client:
    anna = Client.objects.create(name="Анна Смирнова", phone="+7 999 123-45-67", whatsapp_id="79991234567")
    now = timezone.now()
    for i, (direction, status, text) in enumerate(
        [
            ("inbound", "received", "Здравствуйте! Хочу заказать доставку на завтра 🚚"),
            ("outbound", "read", "Добрый день! Доставим завтра с 10 до 14, стоимость 1500 ₽"),
            ("inbound", "received", "Отлично, жду 👍"),
        ]
    ):
        Message.objects.create(
            client=anna,
            direction=direction,
            status=status,
            type_message="textMessage",
            content=text,
            external_id=f"BROWSER{i:013d}",
            sent_at=now - timedelta(minutes=30 - i),
            created_at=now - timedelta(minutes=30 - i),
        )
    Client.objects.create(name="João Silva", whatsapp_id="5511987654321")
    return anna


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = SHOTS if os.environ.get("SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_staff_find_read_answer_and_export(page, live_server, anna, fake_greenapi, shots) -> None:
    page.screenshot(path=str(shots / "index.png"), full_page=True)

    page.click("#content-main a[href='/admin/clients/client/']")
    page.fill("#searchbar", "8 (999) 123-45-67")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "João" not in page.inner_text("#result_list")
    page.screenshot(path=str(shots / "client-search.png"), full_page=True)

    page.click("#result_list tbody tr th a")
    page.wait_for_selector("#thread")
    bubbles = page.locator("#thread .bubble")
    assert bubbles.count() == 3
    assert "Хочу заказать доставку" in bubbles.nth(0).inner_text()
    assert "✓✓" in bubbles.nth(1).inner_text()

    page.fill("#reply textarea[name=text]", "Курьер выехал, будет через час 🚚")
    page.click("#reply input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "Sent to Анна Смирнова" in page.inner_text(".messagelist")
    last = page.locator("#thread .bubble").last
    assert "Курьер выехал" in last.inner_text()
    assert "✓" in last.inner_text()
    assert fake_greenapi.sent[0] == {
        "chatId": "79991234567@c.us",
        "message": "Курьер выехал, будет через час 🚚",
        "idMessage": Message.objects.get(content__startswith="Курьер").external_id,
    }
    page.locator("#reply").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "conversation.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/clients/client/")
    page.check(f"input[name=_selected_action][value='{anna.pk}']")
    page.select_option("select[name=action]", "export_csv")
    with page.expect_download() as download_info:
        page.click("button[name=index]")
    content = Path(download_info.value.path()).read_bytes()
    assert content.startswith("\ufeff".encode())
    assert "Анна Смирнова" in content.decode("utf-8-sig")

    page.goto(f"{live_server.url}/admin/clients/client/{anna.pk}/change/")
    with page.expect_download() as download_info:
        page.click("#export-conversation")
    conversation = Path(download_info.value.path()).read_bytes().decode("utf-8-sig")
    assert conversation.index("Хочу заказать доставку") < conversation.index("Отлично, жду 👍")
    assert "Курьер выехал" in conversation


def test_a_refused_reply_is_shown_with_its_reason(page, live_server, anna, fake_greenapi) -> None:
    fake_greenapi.fail_with = 466
    page.goto(f"{live_server.url}/admin/clients/client/{anna.pk}/change/")
    page.fill("#reply textarea[name=text]", "Ещё раз")
    page.click("#reply input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "quota is used up" in page.inner_text(".messagelist")
    assert "✗ Failed" in page.locator("#thread .bubble").last.inner_text()


def test_at_1366_px_the_message_list_shows_its_text_beside_the_filters(browser, live_server, anna, shots) -> None:
    Message.objects.create(
        client=Client.objects.get(name="João Silva"),
        direction="outbound",
        status="read",
        type_message="textMessage",
        content="Olá João! Seu pedido #7731 foi enviado 📦 Código de rastreio: BR123456789XX, entrega prevista amanhã",
    )
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    User.objects.create_superuser(email="staff@example.com", password="a-long-staff-password")
    page.goto(f"{live_server.url}/admin/whatsapp/message/")
    page.fill("#id_username", "staff@example.com")
    page.fill("#id_password", "a-long-staff-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    filters = page.locator("#changelist-filter").bounding_box()
    shown = page.locator("#changelist .results").bounding_box()  # what it shows; wider rows are cut
    assert shown["x"] + shown["width"] <= filters["x"]
    for cell in page.locator("#result_list td.field-preview").all():
        box = cell.bounding_box()
        assert box["width"] >= 300, "room for a line of text, not a column of words"
        assert box["x"] + box["width"] <= shown["x"] + shown["width"], "the text is not cut by the filter panel"
    assert page.locator("#result_list td.field-type").first.inner_text() == "Text"
    page.screenshot(path=str(shots / "messages.png"))
    context.close()


def test_view_only_staff_read_the_conversation_without_a_reply_box(browser, live_server, anna, shots) -> None:
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user(email="viewer@example.com", password="a-long-viewer-password", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/clients/client/{anna.pk}/change/")
    page.fill("#id_username", "viewer@example.com")
    page.fill("#id_password", "a-long-viewer-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#thread")
    assert page.locator("#thread .bubble").count() == 3
    assert page.locator("#reply").count() == 0
    assert page.locator("input[name=_save]").count() == 0
    page.goto(f"{live_server.url}/admin/whatsapp/message/{anna.messages.first().pk}/change/")
    assert "View message" in page.inner_text("#content")
    context.close()


def test_staff_see_a_clients_photo_and_send_a_file_from_the_reply_box(
    page, live_server, anna, media_fake, shots, tmp_path
) -> None:
    from django.db import transaction

    from conftest import run_jobs
    from crm.testing.greenapi_fake import PDF, png
    from whatsapp.media import media_enqueue

    body = media_fake.media_notification(
        media_fake.add_file(png(480, 320), "IMG-20261201.png"), mimeType="image/png", caption="Вот так упаковка пришла"
    )
    body["senderData"]["chatId"] = body["senderData"]["sender"] = "79991234567@c.us"
    assert requests.post(f"{live_server.url}/whatsapp/webhook", json=body, timeout=10).status_code == 200
    with transaction.atomic():  # what the webhook's write path asks for
        media_enqueue(message=Message.objects.get(external_id=body["idMessage"]))
    run_jobs()

    page.goto(f"{live_server.url}/admin/clients/client/{anna.pk}/change/")
    picture = page.locator(f"#thread [data-message='{body['idMessage']}'] img.media-image")
    picture.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    assert picture.evaluate("img => img.naturalWidth") == 480

    document = tmp_path / "Договор поставки.pdf"
    document.write_bytes(PDF)
    page.fill("#reply textarea[name=text]", "Договор во вложении")
    page.set_input_files("#reply-file", str(document))
    page.click("#reply input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "Sent to Анна Смирнова" in page.inner_text(".messagelist")
    sent = media_fake.sent_files[0]
    assert (sent["fileName"], sent["caption"], sent["content"]) == ("Договор поставки.pdf", "Договор во вложении", PDF)
    last = page.locator("#thread .bubble").last
    assert "📎 Договор поставки.pdf" in last.inner_text()
    assert "✓" in last.inner_text()
    page.locator("#thread").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "conversation-files.png"), full_page=True)
