"""The inbox and conversation pages, unread counts and titles, the roles on every page and on the
JSON API, and readChat."""

import importlib

import pytest
from django.contrib.auth.models import Group
from django.test import Client as HttpClient
from django.urls import reverse

from clients.models import Client, ClientActivity
from conftest import grant, run_jobs
from inbox.models import ConversationEvent
from inbox.roles import ROLES, roles_ensure
from inbox.services import conversation_change, inbox_counts
from inbox.tests.people import NUMBER, conversation_of, inbox, incoming, staff, token_for
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


def test_the_inbox_lists_each_conversation_with_its_last_message_and_unread_count(client, post_webhook) -> None:
    post_webhook(incoming("INBOX-1", "Где мой заказ? 🚚"))
    post_webhook(incoming("INBOX-2", "Алло", number="79007654321"))
    client.force_login(staff("boss@example.com", "Supervisors"))
    page = inbox(client).content.decode()
    assert page.index("Алло") < page.index("Где мой заказ? 🚚")  # newest activity first
    assert "← Где мой заказ? 🚚" in page
    assert page.count('class="unread-count">1<') == 2
    assert 'id="inbox-counts"' in page  # the header's counts


# Committed one by one, as in production: each message's arrival time is its own transaction's.


@pytest.mark.django_db(transaction=True)
def test_opening_a_conversation_shows_the_thread_and_marks_it_read(client, post_webhook) -> None:
    post_webhook(incoming("INBOX-1", "Где мой заказ?"))
    client.force_login(staff("boss@example.com", "Supervisors"))
    conversation = conversation_of()
    page = client.get(reverse("admin:inbox_conversation_change", args=[conversation.pk])).content.decode()
    assert page.index('id="thread"') < page.index('id="reply"') < page.index('id="client-details"')
    assert "Где мой заказ?" in page
    assert ClientActivity.objects.get(pk=conversation.pk).unread_count == 0
    post_webhook(incoming("INBOX-2", "Ну что?"))
    assert ClientActivity.objects.get(pk=conversation.pk).unread_count == 1


def test_staff_assign_a_conversation_to_themselves_and_it_leaves_unassigned(client, post_webhook) -> None:
    post_webhook(incoming("INBOX-1"))
    anna = staff("anna@example.com", "Supervisors")
    client.force_login(anna)
    conversation = conversation_of()
    url = reverse("admin:inbox_conversation_change", args=[conversation.pk])
    answer = client.post(url, {"status": "open", "assignee": anna.pk, "note": "беру"})
    assert answer.status_code == 302
    assert conversation_of().assignee == anna
    assert "Здравствуйте" not in inbox(client, tab="unassigned").content.decode()
    assert "79001234567" not in inbox(client, tab="unassigned").content.decode()
    assert "+7 900 123-45-67" in inbox(client, tab="mine").content.decode()
    assert ConversationEvent.objects.filter(field="assignee", actor=anna, note="беру").exists()


def test_the_reply_box_of_the_inbox_comes_back_to_the_conversation(client, post_webhook, fake_greenapi) -> None:
    post_webhook(incoming("INBOX-1"))
    client.force_login(staff("boss@example.com", "Supervisors"))
    conversation = conversation_of()
    here = reverse("admin:inbox_conversation_change", args=[conversation.pk])
    answer = client.post(
        reverse("admin:clients_client_send", args=[conversation.pk]), {"text": "Добрый день!", "next": here}
    )
    assert answer.status_code == 302
    assert answer["Location"] == here + "#reply"
    assert fake_greenapi.sent[0]["message"] == "Добрый день!"
    assert conversation_of().waiting_since is None
    outside = client.post(
        reverse("admin:clients_client_send", args=[conversation.pk]), {"text": "ещё", "next": "https://evil.example/"}
    )
    assert outside["Location"].startswith(reverse("admin:clients_client_change", args=[conversation.pk]))


# -------------------------------------------------------------------------------------------------
# Roles.


def test_a_manager_sees_only_their_conversations_in_the_inbox_clients_messages_and_searches(
    client, two_managers
) -> None:
    anna, _ = two_managers
    client.force_login(anna)
    for url in (
        reverse("admin:inbox_conversation_changelist"),
        reverse("admin:clients_client_changelist"),
        reverse("admin:whatsapp_message_changelist"),
        reverse("admin:clients_client_changelist") + "?q=Заказ",
        reverse("admin:whatsapp_message_changelist") + "?q=79000000002",
    ):
        page = client.get(url).content.decode()
        for other in {"Бориса", "Ничей", "79000000002"} - {url.partition("q=")[2]}:
            assert other not in page, (url, page[page.index(other) - 300 : page.index(other) + 100])
    assert "Заказ Анны" in client.get(reverse("admin:clients_client_changelist")).content.decode()


def test_a_manager_cannot_open_answer_or_export_another_managers_conversation(
    client, two_managers, fake_greenapi
) -> None:
    anna, _ = two_managers
    client.force_login(anna)
    boris_client = conversation_of("79000000002").pk
    opened = client.get(reverse("admin:inbox_conversation_change", args=[boris_client]))
    assert opened.status_code == 302  # the admin's "does not exist", to the index
    assert client.get(reverse("admin:clients_client_change", args=[boris_client])).status_code == 302
    assert client.get(reverse("admin:clients_client_export", args=[boris_client])).status_code == 404
    sent = client.post(reverse("admin:clients_client_send", args=[boris_client]), {"text": "чужое"})
    assert sent.status_code == 404
    assert fake_greenapi.sent == []
    taken = client.post(
        reverse("admin:inbox_conversation_change", args=[boris_client]), {"status": "open", "assignee": anna.pk}
    )
    assert taken.status_code == 302
    assert conversation_of("79000000002").assignee.email == "boris@example.com"
    exported = client.post(
        reverse("admin:clients_client_changelist"),
        {"action": "export_csv", "_selected_action": [str(c) for c in Client.objects.values_list("pk", flat=True)]},
    )
    assert (
        "Бориса" not in b"".join(exported.streaming_content).decode()
        if exported.streaming
        else exported.content.decode()
    )


def test_a_manager_sees_unassigned_conversations_while_the_setting_allows(client, two_managers, settings) -> None:
    anna, _ = two_managers
    client.force_login(anna)
    assert "Ничей" not in inbox(client).content.decode()
    settings.INBOX_MANAGERS_SEE_UNASSIGNED = True
    assert "Ничей" in inbox(client).content.decode()
    assert "Бориса" not in inbox(client).content.decode()


def test_a_supervisor_sees_every_conversation(client, two_managers) -> None:
    client.force_login(staff("boss@example.com", "Supervisors"))
    page = inbox(client).content.decode()
    assert all(name in page for name in ("Заказ Анны", "Заказ Бориса", "Ничей"))


# -------------------------------------------------------------------------------------------------
# The JSON API.


def test_the_api_lists_conversations_with_the_inbox_filters_and_roles(client, two_managers) -> None:
    api = token_for(client, "anna@example.com")
    listed = api.get("/inbox/conversations").json()
    assert [c["lastPreview"] for c in listed["results"]] == ["Заказ Анны"]
    assert listed["results"][0]["unread"] == 1
    assert listed["results"][0]["assignee"]["email"] == "anna@example.com"
    assert api.get("/inbox/conversations", {"tab": "unassigned"}).json()["results"] == []
    assert api.get("/inbox/conversations", {"status": "resolved"}).json()["results"] == []
    assert api.get("/inbox/conversations", {"status": "nonsense"}).status_code == 400
    boss = token_for(HttpClient(), staff("boss@example.com", "Supervisors").email)
    assert len(boss.get("/inbox/conversations").json()["results"]) == 3
    assert len(boss.get("/inbox/conversations", {"tab": "unassigned"}).json()["results"]) == 1
    assert len(boss.get("/inbox/conversations", {"order": "waiting", "limit": 2}).json()["results"]) == 2


def test_the_api_changes_status_and_assignee_and_marks_read_within_the_roles(client, two_managers) -> None:
    _anna, boris = two_managers
    api = token_for(client, "anna@example.com")
    mine, theirs = conversation_of("79000000001").pk, conversation_of("79000000002").pk
    changed = api.patch(
        f"/inbox/conversations/{mine}", {"status": "resolved", "note": "done"}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert changed.json()["status"] == "resolved"
    assert (
        api.patch(f"/inbox/conversations/{theirs}", {"status": "resolved"}, content_type="application/json").status_code
        == 404
    )
    assert api.post(f"/inbox/conversations/{theirs}/read").status_code == 404
    assert api.post(f"/inbox/conversations/{mine}/read").json() == {"marked": 1}
    assert ClientActivity.objects.get(pk=mine).unread_count == 0
    assert ClientActivity.objects.get(pk=theirs).unread_count == 1
    moved = api.patch(
        f"/inbox/conversations/{mine}", {"assigneeId": boris.pk, "note": "в отпуск"}, content_type="application/json"
    )
    assert moved.json()["assignee"]["email"] == "boris@example.com"
    assert api.get("/inbox/conversations").json()["results"] == []
    bad = api.patch(f"/inbox/conversations/{theirs}", {"assigneeId": 999999}, content_type="application/json")
    assert bad.status_code == 404


def test_the_api_refuses_users_without_the_inbox_permission(api, post_webhook) -> None:
    post_webhook(incoming("INBOX-1"))
    assert api.get("/inbox/conversations").status_code == 403
    assert (
        api.patch(f"/inbox/conversations/{conversation_of().pk}", {}, content_type="application/json").status_code
        == 403
    )


# -------------------------------------------------------------------------------------------------
# readChat.


# Committed one by one, as in production: each message's arrival time is its own transaction's.


@pytest.mark.django_db(transaction=True)
def test_opening_a_conversation_tells_green_api_when_the_setting_says_so(
    client, post_webhook, fake_greenapi, settings
) -> None:
    post_webhook(incoming("INBOX-1"))
    client.force_login(staff("boss@example.com", "Supervisors"))
    url = reverse("admin:inbox_conversation_change", args=[conversation_of().pk])
    client.get(url)
    run_jobs()
    assert fake_greenapi.read_chats == []  # off by default
    post_webhook(incoming("INBOX-2"))
    settings.GREEN_API_MARK_READ = True
    client.get(url)
    client.get(url)  # nothing unread any more: no second call
    run_jobs()
    assert fake_greenapi.read_chats == [f"{NUMBER}@c.us"]


def test_the_migration_and_the_command_make_the_same_roles(db) -> None:
    migration = importlib.import_module("inbox.migrations.0002_triggers_and_roles")
    assert {name: [f"{a}.{c}" for a, c in held] for name, held in migration.ROLES.items()} == ROLES
    roles_ensure()
    held = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert "view_all_conversations" in held["Supervisors"]
    assert "view_all_conversations" not in held["Managers"]


def test_the_send_api_refuses_another_managers_client(client, two_managers, fake_greenapi) -> None:
    anna, _ = two_managers
    api = token_for(client, grant(anna, "whatsapp.send_message").email)
    theirs, mine = conversation_of("79000000002").pk, conversation_of("79000000001").pk
    refused = api.post(
        "/whatsapp/messages", {"clientId": str(theirs), "text": "чужое"}, content_type="application/json"
    )
    assert refused.status_code == 404
    assert fake_greenapi.sent == []
    sent = api.post("/whatsapp/messages", {"clientId": str(mine), "text": "своё"}, content_type="application/json")
    assert sent.status_code == 201


def test_a_stale_form_saving_an_assignee_leaves_the_status_the_client_changed(client, post_webhook) -> None:
    boss = staff("boss@example.com", "Supervisors")
    post_webhook(incoming("INBOX-1"))
    conversation_change(conversation=conversation_of(), actor=boss, status="resolved")
    client.force_login(boss)
    url = reverse("admin:inbox_conversation_change", args=[conversation_of().pk])
    client.get(url)  # the form shows "resolved"
    post_webhook(incoming("INBOX-2", "Ещё вопрос"))  # reopened meanwhile
    stale = {"status": "resolved", "initial-status": "resolved", "initial-assignee": ""}
    client.post(url, {**stale, "assignee": boss.pk})
    assert (conversation_of().status, conversation_of().assignee) == ("open", boss)


def test_the_counts_stop_at_99_plus(db) -> None:
    Client.objects.bulk_create(Client(name=f"c{i}", whatsapp_id=f"7900000{i:04d}") for i in range(101))
    clients = list(Client.objects.all())
    Message.objects.bulk_create(
        Message(client=c, direction="inbound", content="?", external_id=f"CAP-{i}") for i, c in enumerate(clients)
    )
    assert inbox_counts(user=staff("boss@example.com", "Supervisors")) == {
        "unread": "99+",
        "mine": "0",
        "unassigned": "99+",
    }


def test_the_inbox_tab_is_titled_inbox_with_the_unread_count_and_a_conversation_by_its_client(
    client, post_webhook
) -> None:
    client.force_login(staff("boss@example.com", "Supervisors"))
    assert "<title>Inbox | " in inbox(client).content.decode()
    post_webhook(incoming("INBOX-1"))
    post_webhook(incoming("INBOX-2", number="79001234568"))
    page = inbox(client).content.decode()
    assert "<title>(2) Inbox | " in page
    assert "Select conversation to change" not in page
    opened = client.get(reverse("admin:inbox_conversation_change", args=[conversation_of().pk])).content.decode()
    assert f"<title>{conversation_of().client} | Conversation | " in opened


def test_the_inbox_draws_no_count_beside_its_search_box_that_its_live_rows_would_outdate(client, post_webhook) -> None:
    client.force_login(staff("boss@example.com", "Supervisors"))
    post_webhook(incoming("INBOX-1"))
    page = client.get(reverse("admin:inbox_conversation_changelist"), {"q": "Анна"}).content.decode()
    assert 'id="searchbar"' in page
    assert "result (" not in page
    assert "results (" not in page
