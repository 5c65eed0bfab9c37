"""Who may do what in the JSON API (README, "Who may do what"): each role against each endpoint."""

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from clients.models import Client
from conftest import grant
from whatsapp.models import Message

pytestmark = pytest.mark.django_db

VIEW, SEND = "whatsapp.view_message", "whatsapp.send_message"


def superuser() -> User:
    return User.objects.create_superuser(email="boss@example.com", password="pw")


def view_only_staff() -> User:
    staff = User.objects.create_user(email="viewer@example.com", password="pw", is_staff=True)
    return grant(staff, VIEW, "clients.view_client")


def sending_staff() -> User:
    return grant(User.objects.create_user(email="agent@example.com", password="pw", is_staff=True), VIEW, SEND)


def staff_without_permissions() -> User:
    return User.objects.create_user(email="new-hire@example.com", password="pw", is_staff=True)


def api_user_without_permissions() -> User:
    return User.objects.create_user(email="robot@example.com", password="pw")


def api_user_that_sends() -> User:
    return grant(User.objects.create_user(email="sender-bot@example.com", password="pw"), SEND)


# role → (GET /whatsapp/stats, POST /whatsapp/messages)
ROLES = {
    superuser: (200, 201),
    view_only_staff: (200, 403),
    sending_staff: (200, 201),
    staff_without_permissions: (403, 403),
    api_user_without_permissions: (403, 403),
    api_user_that_sends: (403, 201),
}


def bearer(user: User) -> dict:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.__name__)
def test_stats_need_the_permission_to_view_messages(client, role) -> None:
    expected = ROLES[role][0]
    answer = client.get("/whatsapp/stats", headers=bearer(role()))
    assert answer.status_code == expected
    if expected == 403:
        assert answer.json() == {
            "detail": "You need the permission whatsapp.view_message: an administrator grants it in the admin "
            "(Users, Permissions)."
        }
        assert "recentMessages" not in answer.json()


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.__name__)
def test_sending_needs_the_permission_to_send_and_a_refusal_writes_nothing(client, fake_greenapi, role) -> None:
    expected = ROLES[role][1]
    answer = client.post(
        "/whatsapp/messages",
        {"phone": "+7 916 555-01-02", "text": "Здравствуйте"},
        content_type="application/json",
        headers=bearer(role()),
    )
    assert answer.status_code == expected
    if expected == 403:
        assert "whatsapp.send_message" in answer.json()["detail"]
        assert (Client.objects.count(), Message.objects.count(), fake_greenapi.sent) == (0, 0, [])
    else:
        assert Message.objects.get().client.whatsapp_id == "79165550102"


def test_a_permission_given_through_a_group_counts(client, fake_greenapi) -> None:
    from django.contrib.auth.models import Group, Permission

    agents = Group.objects.create(name="Agents")
    agents.permissions.add(Permission.objects.get(codename="send_message"))
    member = User.objects.create_user(email="member@example.com", password="pw", is_staff=True)
    member.groups.add(agents)
    anna = Client.objects.create(name="Анна", whatsapp_id="79031234567")
    answer = client.post(
        "/whatsapp/messages",
        {"clientId": str(anna.pk), "text": "hi"},
        content_type="application/json",
        headers=bearer(member),
    )
    assert answer.status_code == 201


def test_a_deactivated_superuser_is_refused_at_once(client) -> None:
    boss = superuser()
    headers = bearer(boss)
    boss.is_active = False
    boss.save()
    assert client.get("/whatsapp/stats", headers=headers).status_code == 401


def test_an_endpoint_that_names_no_permission_is_refused_to_everyone(rf) -> None:
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class Forgotten(APIView):
        def get(self, request) -> Response:
            return Response({"secret": True})

    request = rf.get("/forgotten", headers=bearer(superuser()))
    answer = Forgotten.as_view()(request)
    assert answer.status_code == 403
    assert "names no permission" in answer.data["detail"]
