"""In a real browser (headless Chromium): `/shortcut` in the reply box inserts a canned reply rendered for
the client and the member of staff, which then goes to (a local) Green API; a private note appears in
the thread, marked as such, and goes nowhere."""

import pytest

from accounts.models import User
from clients.tests.test_browser import CHROMIUM, anna, browser, page, shots  # noqa: F401 - the same fixtures
from whatsapp.models import CannedReply, Message, Note

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="no Chromium at /usr/bin/chromium"),
]


def test_a_shortcut_inserts_the_canned_reply_and_it_is_sent(page, live_server, anna, fake_greenapi, shots) -> None:  # noqa: F811
    User.objects.filter(email="staff@example.com").update(name="Ольга")
    CannedReply.objects.create(shortcut="hello", text="Здравствуйте, {client_name}! Меня зовут {agent_name}.")
    CannedReply.objects.create(shortcut="help", text="Чем могу помочь?")
    CannedReply.objects.create(
        owner=User.objects.get(email="staff@example.com"), shortcut="bye", text="До свидания, {client_name}!"
    )
    page.goto(f"{live_server.url}/admin/clients/client/{anna.pk}/change/")
    box = page.locator("#reply-text")
    box.click()
    box.press_sequentially("Добрый день. /he")
    page.wait_for_selector("#canned-menu li")
    offered = page.locator("#canned-menu li")
    assert [offered.nth(i).get_attribute("data-shortcut") for i in range(offered.count())] == ["hello", "help"]
    page.locator("#reply").screenshot(path=str(shots / "canned-reply-menu.png"))
    box.press("Enter")
    assert box.input_value() == "Добрый день. Здравствуйте, Анна Смирнова! Меня зовут Ольга."
    assert page.locator("#canned-menu").is_hidden()
    box.press_sequentially(" /bye")
    page.wait_for_selector("#canned-menu li[data-shortcut=bye]")
    page.click("#canned-menu li[data-shortcut=bye]")
    text = "Добрый день. Здравствуйте, Анна Смирнова! Меня зовут Ольга. До свидания, Анна Смирнова!"
    assert box.input_value() == text
    page.click("#reply input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert [s["message"] for s in fake_greenapi.sent] == [text]
    assert text in page.locator("#thread .bubble").last.inner_text()


def test_a_private_note_appears_in_the_thread_and_is_never_sent(page, live_server, anna, fake_greenapi, shots) -> None:  # noqa: F811
    page.goto(f"{live_server.url}/admin/clients/client/{anna.pk}/change/")
    page.fill("#note-text", "Постоянный клиент: доставка бесплатно 🎁")
    page.click("#note input[type=submit]")
    page.wait_for_selector("#thread .note")
    note = page.locator("#thread .note")
    assert note.count() == 1
    assert "📝 Private note · staff@example.com" in note.inner_text()
    assert "Постоянный клиент: доставка бесплатно 🎁" in note.inner_text()
    # After the three messages, which were written before it.
    assert page.locator("#thread > .bubble, #thread > .note").last.get_attribute("class") == "note"
    assert page.locator("#thread .bubble").count() == 3
    assert fake_greenapi.sent == []
    assert Message.objects.count() == 3
    assert Note.objects.count() == 1
    page.locator("#thread").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "conversation-note.png"), full_page=True)
