"""A day in the inbox, in two real browsers (headless Chromium) against the Procfile's gunicorn: a
client's message arrives by webhook and appears in both inboxes without a reload; one manager takes
it, it leaves the other's unassigned view; she answers while a new message arrives (her draft is
kept), resolves it, and the client's reply reopens it; the other manager cannot open it by link or
by the API. Screenshots go to docs/screenshots/ (SCREENSHOTS=1)."""

import copy
import itertools
import os
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group
from django.db import connection

from accounts.models import User
from clients.tests.test_browser import CHROMIUM, SHOTS
from conftest import needs_postgres, payload
from crm.testing.servers import Gunicorn, database_url
from inbox.models import Conversation
from inbox.roles import roles_ensure
from whatsapp.models import Message

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    needs_postgres("the Procfile's gunicorn shares the test's database only on a database server"),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]

PASSWORD = "a-long-staff-password"
NUMBER = "79161234567"
_ids = itertools.count(1)


def client_writes(server: Gunicorn, text: str) -> None:
    body = copy.deepcopy(payload("incomingMessageReceived.textMessage.json"))
    body["idMessage"] = f"BROWSER-INBOX-{next(_ids)}"
    body["timestamp"] = int(time.time())
    body["senderData"].update(chatId=f"{NUMBER}@c.us", sender=f"{NUMBER}@c.us", senderName="Мария 🌷")
    body["messageData"]["textMessageData"]["textMessage"] = text
    assert requests.post(f"{server.url}/whatsapp/webhook", json=body, timeout=10).status_code == 200


@pytest.fixture
def server(fake_greenapi, settings):
    # The server checks passwords with the production hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    running = Gunicorn(
        database_url(connection.settings_dict),
        GREEN_API_URL=fake_greenapi.url,
        GREEN_API_ID_INSTANCE=fake_greenapi.id_instance,
        GREEN_API_TOKEN=fake_greenapi.token,
        WEB_CONCURRENCY="2",
    ).start()
    yield running
    running.stop()


@pytest.fixture
def browser():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
            )
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def manager(email: str, name: str) -> User:
    roles_ensure()
    user = User.objects.create_user(email=email, password=PASSWORD, is_staff=True, name=name)
    user.groups.add(Group.objects.get(name="Managers"))
    return user


def logged_in(browser, server: Gunicorn, email: str):
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{server.url}/admin/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#inbox-rows", state="attached")  # staff land in the inbox
    return page


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = SHOTS if os.environ.get("SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_two_managers_work_one_conversation_live_from_arrival_to_reopening(
    browser, server, fake_greenapi, shots
) -> None:
    anna = manager("anna@example.com", "Анна")
    manager("olga@example.com", "Ольга")
    annas, olgas = logged_in(browser, server, "anna@example.com"), logged_in(browser, server, "olga@example.com")
    olgas.goto(f"{server.url}/admin/inbox/conversation/?tab=unassigned")
    olgas.wait_for_selector("#inbox-rows", state="attached")

    # A client writes: both inboxes show it by themselves.
    client_writes(server, "Здравствуйте! Можно перенести доставку на пятницу? 🚚")
    for page in (annas, olgas):
        page.wait_for_selector("#result_list >> text=Можно перенести доставку")
        assert page.inner_text("#inbox-counts .inbox-unread") == "1"
        page.wait_for_function("document.title.startsWith('(1) Inbox')")  # the tab, live too
    annas.screenshot(path=str(shots / "inbox.png"), full_page=True)

    # Anna opens it and takes it: it is read, and it leaves Olga's unassigned view.
    annas.click("#result_list tbody tr th a")
    annas.wait_for_selector("#thread >> text=Можно перенести доставку")
    conversation = Conversation.objects.select_related("client").get(client__whatsapp_id=NUMBER)
    assert conversation.client.activity.unread_count == 0  # opening it read it
    annas.select_option("#id_assignee", str(anna.pk))
    annas.fill("#id_note", "беру, я вела этот заказ")
    annas.click("input[name=_save]")
    annas.wait_for_selector("#conversation-state >> text=anna@example.com")
    olgas.wait_for_selector("#result_list >> text=Можно перенести доставку", state="detached")
    assert Conversation.objects.get(pk=conversation.pk).assignee == anna

    # She types her answer; the client writes again meanwhile: it appears, and her draft is kept.
    draft = "Да, конечно! Перенесём на пятницу, с 10 до 14 👍"
    annas.fill("#reply textarea", draft)
    client_writes(server, "И можно после обеда?")
    annas.wait_for_selector("#thread >> text=И можно после обеда?")
    assert annas.input_value("#reply textarea") == draft
    annas.screenshot(path=str(shots / "inbox-conversation.png"), full_page=True)
    annas.click("#reply input[type=submit]")
    annas.wait_for_selector("#thread .bubble.outbound >> text=Перенесём на пятницу")
    assert fake_greenapi.sent[-1]["message"] == draft
    assert fake_greenapi.sent[-1]["chatId"] == f"{NUMBER}@c.us"

    # Green API reports it delivered: the tick changes in the open conversation.
    assert Message.objects.filter(external_id=fake_greenapi.sent[-1]["idMessage"], status="sent").exists()
    status = fake_greenapi.status_notification(fake_greenapi.sent[-1], "read")
    assert requests.post(f"{server.url}/whatsapp/webhook", json=status, timeout=10).status_code == 200
    annas.wait_for_selector("#thread .bubble.outbound .status-read")

    # Resolved; the client's reply reopens it, live.
    annas.select_option("#id_status", "resolved")
    annas.click("input[name=_save]")
    annas.wait_for_selector("#conversation-state .state-status >> text=Resolved")
    client_writes(server, "Спасибо! А во сколько точно?")
    annas.wait_for_selector("#conversation-state .state-status >> text=Open")
    annas.wait_for_selector("#conversation-history >> text=the client wrote")
    annas.screenshot(path=str(shots / "inbox-reopened.png"), full_page=True)

    # Olga cannot open it, by link or by the API.
    olgas.goto(f"{server.url}/admin/inbox/conversation/{conversation.pk}/change/")
    assert "Можно перенести доставку" not in olgas.content()
    olgas.goto(f"{server.url}/admin/clients/client/{conversation.pk}/change/")
    assert "Можно перенести доставку" not in olgas.content()
    tokens = requests.post(
        f"{server.url}/auth/login", json={"email": "olga@example.com", "password": PASSWORD}, timeout=10
    ).json()
    headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
    read = requests.post(f"{server.url}/inbox/conversations/{conversation.pk}/read", headers=headers, timeout=10)
    assert read.status_code == 404
    assert (
        requests.patch(
            f"{server.url}/inbox/conversations/{conversation.pk}",
            json={"assigneeId": None},
            headers=headers,
            timeout=10,
        ).status_code
        == 404
    )
    listed = requests.get(f"{server.url}/inbox/conversations", headers=headers, timeout=10).json()
    assert listed["results"] == []
    olgas.goto(f"{server.url}/admin/inbox/conversation/")
    olgas.screenshot(path=str(shots / "inbox-other-manager.png"), full_page=True)


def supervisor(email: str, name: str) -> User:
    roles_ensure()
    user = User.objects.create_user(email=email, password=PASSWORD, is_staff=True, name=name)
    user.groups.add(Group.objects.get(name="Supervisors"))
    return user


def seconds_until(page, selector: str, since: float) -> float:
    page.wait_for_selector(selector)
    return time.monotonic() - since


def test_a_colleagues_change_shows_in_the_open_conversation_without_losing_a_draft_or_an_edited_form(
    browser, server
) -> None:
    supervisor("anna@example.com", "Анна")
    olga = supervisor("olga@example.com", "Ольга")
    annas, olgas = logged_in(browser, server, "anna@example.com"), logged_in(browser, server, "olga@example.com")
    client_writes(server, "Добрый день, где мой заказ?")
    conversation = Conversation.objects.get(client__whatsapp_id=NUMBER)
    url = f"{server.url}/admin/inbox/conversation/{conversation.pk}/change/"
    for page in (annas, olgas):
        page.goto(url)
        page.wait_for_selector("#thread >> text=где мой заказ")
    draft = "Сейчас проверю и вернусь с ответом"
    annas.fill("#reply textarea", draft)

    # Olga takes it: Anna's state and her untouched form follow by themselves; her draft stays.
    olgas.select_option("#id_assignee", str(olga.pk))
    olgas.click("input[name=_save]")
    olgas.wait_for_selector("#conversation-state >> text=olga@example.com")
    saved = time.monotonic()
    took = seconds_until(annas, "#conversation-state .state-assignee >> text=olga@example.com", saved)
    print(f"\nthe colleague's assignment appeared in the open conversation after {took:.2f} s")
    annas.wait_for_function(f"document.getElementById('id_assignee').value === '{olga.pk}'")
    assert annas.input_value("#initial-id_assignee") == str(olga.pk)
    assert annas.is_hidden("#conversation-changed")
    assert annas.input_value("#reply textarea") == draft

    # Anna starts changing the status; Olga resolves it meanwhile: Anna's choice is kept, and she is told.
    annas.select_option("#id_status", "pending")
    olgas.select_option("#id_status", "resolved")
    olgas.click("input[name=_save]")
    olgas.wait_for_selector("#conversation-state .state-status >> text=Resolved")
    saved = time.monotonic()
    took = seconds_until(annas, "#conversation-state .state-status >> text=Resolved", saved)
    print(f"the colleague's status appeared after {took:.2f} s")
    annas.wait_for_selector("#conversation-changed >> text=Changed by olga@example.com")
    assert "now Resolved, assigned to olga@example.com" in annas.inner_text("#conversation-changed")
    assert annas.input_value("#id_status") == "pending"
    assert annas.input_value("#reply textarea") == draft

    # Her Save applies what she changed, and only that: the assignee stays Olga's.
    annas.click("input[name=_save]")
    annas.wait_for_selector("#conversation-state .state-status >> text=Pending")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee) == ("pending", olga)
    assert annas.is_hidden("#conversation-changed")
    # Olga's page, untouched since her save, follows Anna's change into its form.
    olgas.wait_for_function("document.getElementById('id_status').value === 'pending'")

    # Olga writes a note for the history; the client's message reopens it: shown, her note kept.
    olgas.fill("#id_note", "ждём ответа склада")
    client_writes(server, "Алло?")
    olgas.wait_for_selector("#conversation-state .state-status >> text=Open")
    olgas.wait_for_selector("#conversation-changed >> text=Changed by the client")
    assert olgas.input_value("#id_status") == "pending"
    assert olgas.input_value("#id_note") == "ждём ответа склада"


def participant_writes(server: Gunicorn, number: str, name: str, text: str) -> None:
    body = copy.deepcopy(payload("incomingMessageReceived.textMessage.group.json"))
    body["idMessage"] = f"BROWSER-GROUP-{next(_ids)}"
    body["timestamp"] = int(time.time())
    body["senderData"].update(sender=f"{number}@c.us", senderName=name)
    body["messageData"]["textMessageData"]["textMessage"] = text
    assert requests.post(f"{server.url}/whatsapp/webhook", json=body, timeout=10).status_code == 200


def test_a_group_chat_is_one_conversation_each_message_with_its_writer_and_the_reply_goes_to_the_group(
    browser, server, fake_greenapi, shots
) -> None:
    manager("anna@example.com", "Анна")
    page = logged_in(browser, server, "anna@example.com")
    participant_writes(server, "77079876543", "Айгерим", "Тапсырыс дайын ба?")
    participant_writes(server, "77010000002", "Борис", "И мой заказ тоже, пожалуйста")
    # One row for the group, whoever wrote in it, by itself.
    page.wait_for_selector("#result_list >> text=Отдел продаж")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "WhatsApp group" in page.inner_text("#result_list tbody tr")

    page.click("#result_list tbody tr th a")
    page.wait_for_selector("#thread >> text=И мой заказ тоже")
    authors = page.locator("#thread .bubble.inbound .author a").all_inner_texts()
    assert authors == ["Айгерим", "Борис"]
    assert "120363043968066561@g.us" in page.inner_text("#client-details")
    page.fill("#reply textarea", "Оба заказа готовы, забирайте 👍")
    page.click("#reply input[type=submit]")
    page.wait_for_selector("#thread .bubble.outbound >> text=Оба заказа готовы")
    assert fake_greenapi.sent[-1]["chatId"] == "120363043968066561@g.us"
    page.screenshot(path=str(shots / "inbox-group.png"), full_page=True)

    # The participant's own page names the group, with a link to it.
    page.click("#thread .bubble.inbound .author a >> text=Айгерим")
    page.wait_for_selector("#groups-written-in >> text=Отдел продаж")
    assert "Тапсырыс дайын ба?" not in page.inner_text("#thread")
