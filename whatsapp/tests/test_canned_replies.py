"""Canned replies: shared and personal quick replies, managed in the admin by whoever may, offered to
the reply box (`/shortcut`) rendered by the server for the client and the member of staff."""

import pytest
from django.urls import reverse

from accounts.models import User
from clients.models import Client
from conftest import grant
from whatsapp.models import CannedReply
from whatsapp.placeholders import PlaceholderError, placeholders_render

pytestmark = pytest.mark.django_db

PERSONAL = ("whatsapp.view_cannedreply", "whatsapp.add_cannedreply", "whatsapp.change_cannedreply")
PERSONAL += ("whatsapp.delete_cannedreply",)
SENDER = ("clients.view_client", "whatsapp.view_message", "whatsapp.send_message")
# role → its permissions
ROLES = {
    "agent": (*SENDER, *PERSONAL),
    "lead": (*SENDER, *PERSONAL, "whatsapp.manage_shared_replies"),
    "view-only": ("clients.view_client", "whatsapp.view_message", "whatsapp.view_cannedreply"),
    "nobody": (),
}


def staff(role: str, name: str = "") -> User:
    user = User.objects.create_user(email=f"{role}@example.com", password="pw", is_staff=True, name=name)
    return grant(user, *ROLES[role])


@pytest.fixture
def anna() -> Client:
    return Client.objects.create(name="Анна", whatsapp_id="79991234567")


def add_url() -> str:
    return reverse("admin:whatsapp_cannedreply_add")


def change_url(reply: CannedReply) -> str:
    return reverse("admin:whatsapp_cannedreply_change", args=[reply.pk])


def replies_url(client: Client) -> str:
    return reverse("admin:clients_client_replies", args=[client.pk])


# -------------------------------------------------------------------------------------------------
# Rendering.


def test_placeholders_are_filled_and_braces_can_be_written() -> None:
    text = "Здравствуйте, {client_name}! Это {agent_name}. {{скобки}}"
    assert placeholders_render(text, {"client_name": "Анна", "agent_name": "Ольга"}) == (
        "Здравствуйте, Анна! Это Ольга. {скобки}"
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Hello {name}", "Unknown placeholder {name}: use {agent_name}, {client_name}."),
        ("Hello {client_name.__class__}", "Unknown placeholder {client_name.__class__}"),
        ("Hello {client_name!r}", "Unknown placeholder {client_name!r}"),
        ("Hello {client_name:>30}", "Unknown placeholder {client_name:>30}"),
        ("Hello {client_name", "A brace is not closed or opened"),
        ("Hello }", "A brace is not closed or opened"),
    ],
)
def test_a_wrong_placeholder_is_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(PlaceholderError) as raised:
        placeholders_render(text, {"client_name": "Анна", "agent_name": "Ольга"})
    assert says in str(raised.value)


# -------------------------------------------------------------------------------------------------
# The reply box's list.


def test_the_reply_box_gets_shared_and_own_replies_rendered_for_the_client_and_the_agent(client, anna) -> None:
    agent = staff("agent", name="Ольга")
    other = staff("lead")
    CannedReply.objects.create(shortcut="hello", text="Здравствуйте, {client_name}! Меня зовут {agent_name}.")
    CannedReply.objects.create(owner=agent, shortcut="bye", text="До свидания, {client_name}!")
    CannedReply.objects.create(owner=other, shortcut="secret", text="not for Ольга")
    client.force_login(agent)
    answer = client.get(replies_url(anna))
    assert answer.status_code == 200
    assert answer.json()["replies"] == [
        {"shortcut": "bye", "shared": False, "text": "До свидания, Анна!", "error": ""},
        {"shortcut": "hello", "shared": True, "text": "Здравствуйте, Анна! Меня зовут Ольга.", "error": ""},
    ]


def test_a_stored_reply_with_an_unknown_placeholder_is_offered_as_its_error_not_a_500(client, anna) -> None:
    CannedReply.objects.create(shortcut="typo", text="Hello {clientname}")  # written past the form (a script)
    client.force_login(staff("agent"))
    answer = client.get(replies_url(anna))
    assert answer.status_code == 200
    [offered] = answer.json()["replies"]
    assert offered["text"] == ""
    assert offered["error"] == "/typo: Unknown placeholder {clientname}: use {agent_name}, {client_name}."


@pytest.mark.parametrize(("role", "status"), [("agent", 200), ("lead", 200), ("view-only", 403), ("nobody", 403)])
def test_only_staff_who_may_send_get_the_reply_boxs_list(client, anna, role: str, status: int) -> None:
    CannedReply.objects.create(shortcut="hello", text="Hi")
    client.force_login(staff(role))
    assert client.get(replies_url(anna)).status_code == status


# -------------------------------------------------------------------------------------------------
# Managing them in the admin, per role.


def test_an_agent_adds_a_personal_reply_and_cannot_share_it(client) -> None:
    agent = staff("agent")
    client.force_login(agent)
    page = client.get(add_url())
    assert page.status_code == 200
    assert 'name="shared"' not in page.content.decode()
    answer = client.post(add_url(), {"shortcut": "Hello", "text": "Здравствуйте, {client_name}!", "shared": "on"})
    assert answer.status_code == 302
    reply = CannedReply.objects.get()
    assert (reply.owner, reply.shortcut) == (agent, "hello")  # the field was not offered: personal


def test_a_lead_shares_a_reply(client) -> None:
    client.force_login(staff("lead"))
    answer = client.post(add_url(), {"shortcut": "hello", "text": "Здравствуйте!", "shared": "on"})
    assert answer.status_code == 302
    assert CannedReply.objects.get().shared


def test_the_form_refuses_an_unknown_placeholder_and_a_taken_shortcut(client) -> None:
    agent = staff("agent")
    CannedReply.objects.create(owner=agent, shortcut="hello", text="Hi")
    client.force_login(agent)
    answer = client.post(add_url(), {"shortcut": "price", "text": "Цена для {client}"})
    assert answer.status_code == 200
    assert "Unknown placeholder {client}: use {agent_name}, {client_name}." in answer.content.decode()
    answer = client.post(add_url(), {"shortcut": "hello", "text": "Again"})
    assert "One of your replies already has the shortcut /hello." in answer.content.decode()
    assert CannedReply.objects.count() == 1


def test_the_same_shortcut_may_be_personal_to_two_agents_and_shared_once(client) -> None:
    first, second = staff("agent"), staff("lead")
    CannedReply.objects.create(owner=first, shortcut="hello", text="1")
    CannedReply.objects.create(owner=second, shortcut="hello", text="2")
    CannedReply.objects.create(shortcut="hello", text="shared")
    client.force_login(second)
    answer = client.post(add_url(), {"shortcut": "hello", "text": "again", "shared": "on"})
    assert "A shared reply already has the shortcut /hello." in answer.content.decode()
    assert CannedReply.objects.count() == 3


def test_an_agent_cannot_edit_or_delete_a_shared_reply_but_a_lead_can(client) -> None:
    shared = CannedReply.objects.create(shortcut="hello", text="Hi")
    client.force_login(staff("agent"))
    assert client.get(change_url(shared)).status_code == 200  # read-only
    assert client.post(change_url(shared), {"shortcut": "hello", "text": "Changed"}).status_code == 403
    assert (
        client.post(reverse("admin:whatsapp_cannedreply_delete", args=[shared.pk]), {"post": "yes"}).status_code == 403
    )
    shared.refresh_from_db()
    assert shared.text == "Hi"
    client.force_login(staff("lead"))
    answer = client.post(change_url(shared), {"shortcut": "hello", "text": "Changed", "shared": "on"})
    assert answer.status_code == 302
    shared.refresh_from_db()
    assert (shared.text, shared.shared) == ("Changed", True)


def test_nobody_sees_or_edits_another_agents_personal_reply(client) -> None:
    owner, other = staff("agent"), staff("lead")
    mine = CannedReply.objects.create(owner=owner, shortcut="mine", text="Mine")
    client.force_login(other)
    assert "/mine" not in client.get(reverse("admin:whatsapp_cannedreply_changelist")).content.decode()
    assert client.get(change_url(mine)).status_code == 302  # "does not exist", as for any hidden row
    client.post(change_url(mine), {"shortcut": "mine", "text": "Stolen"})
    mine.refresh_from_db()
    assert mine.text == "Mine"


@pytest.mark.parametrize("role", ["view-only", "nobody"])
def test_staff_without_the_permissions_add_or_change_nothing(client, role: str) -> None:
    shared = CannedReply.objects.create(shortcut="hello", text="Hi")
    client.force_login(staff(role))
    assert client.get(add_url()).status_code == 403
    assert client.post(add_url(), {"shortcut": "x", "text": "y"}).status_code == 403
    assert client.post(change_url(shared), {"shortcut": "hello", "text": "Changed"}).status_code == 403
    assert list(CannedReply.objects.values_list("shortcut", "text")) == [("hello", "Hi")]
    listing = client.get(reverse("admin:whatsapp_cannedreply_changelist")).status_code
    assert listing == (200 if role == "view-only" else 403)
