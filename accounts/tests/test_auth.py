import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db

LOGIN = "/auth/login"


def login(client, email: str, password: str):
    return client.post(LOGIN, {"email": email, "password": password}, content_type="application/json")


def test_login_returns_access_and_refresh_tokens(client, user) -> None:
    answer = login(client, "staff@example.com", "correct-horse-battery")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"accessToken", "refreshToken"}
    assert body["accessToken"].count(".") == 2


def test_login_ignores_the_case_of_the_email(client, user) -> None:
    assert login(client, "Staff@Example.COM", "correct-horse-battery").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_401(client, user) -> None:
    wrong_password = login(client, "staff@example.com", "nope")
    unknown_email = login(client, "nobody@example.com", "nope")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert "detail" in wrong_password.json()


@pytest.mark.parametrize(
    "body",
    [
        '{"email": "staff@example.com"}',
        '{"password": "x"}',
        "not json",
        "[]",
        '{"email": 1, "password": []}',
    ],
)
def test_malformed_login_body_is_a_400(client, user, body: str) -> None:
    answer = client.post(LOGIN, body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")


def test_refresh_gives_a_new_access_token_and_rotates_the_refresh_token(client, user) -> None:
    tokens = login(client, "staff@example.com", "correct-horse-battery").json()
    answer = client.post(
        "/auth/refresh",
        {"refreshToken": tokens["refreshToken"]},
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert answer.json()["accessToken"]
    assert answer.json()["refreshToken"] != tokens["refreshToken"]
    stats = client.get(
        "/whatsapp/stats",
        headers={"Authorization": f"Bearer {answer.json()['accessToken']}"},
    )
    assert stats.status_code == 200
    # The used refresh token is blacklisted: replaying it fails.
    again = client.post(
        "/auth/refresh",
        {"refreshToken": tokens["refreshToken"]},
        content_type="application/json",
    )
    assert again.status_code == 401


def test_refresh_with_a_garbage_token_is_a_401(client, db) -> None:
    answer = client.post(
        "/auth/refresh",
        {"refreshToken": "abc.def.ghi"},
        content_type="application/json",
    )
    assert answer.status_code == 401


def test_refresh_without_a_token_is_a_400(client, db) -> None:
    assert client.post("/auth/refresh", {}, content_type="application/json").status_code == 400


def test_createsuperuser_noinput_reads_email_and_password_from_the_environment(
    monkeypatch,
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "s3cret-enough")
    call_command("createsuperuser", "--noinput", verbosity=0)
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password("s3cret-enough")


def test_ensure_admin_creates_the_first_admin_once(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "boss@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "another-secret")
    call_command("ensure_admin")
    call_command("ensure_admin")
    assert User.objects.filter(is_superuser=True).count() == 1
    assert User.objects.get(email="boss@example.com").check_password("another-secret")
    assert "another-secret" not in capsys.readouterr().out


def test_staff_add_users_by_email_in_the_admin(client) -> None:
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="pw"))
    assert client.get("/admin/accounts/user/add/").status_code == 200
    password = "Very-long-pass-123"
    client.post(
        "/admin/accounts/user/add/",
        {"email": "new@example.com", "password1": password, "password2": password, "usable_password": "true"},
    )
    created = User.objects.get(email="new@example.com")
    assert created.check_password(password)
    assert client.get(f"/admin/accounts/user/{created.pk}/change/").status_code == 200


@pytest.mark.parametrize("gone", ["deleted", "deactivated"])
def test_refresh_token_of_a_deleted_or_deactivated_user_is_a_401(client, user, gone: str) -> None:
    tokens = login(client, "staff@example.com", "correct-horse-battery").json()
    if gone == "deleted":
        user.delete()
    else:
        user.is_active = False
        user.save()
    answer = client.post("/auth/refresh", {"refreshToken": tokens["refreshToken"]}, content_type="application/json")
    assert answer.status_code == 401
    assert answer.json()["detail"]
    stats = client.get("/whatsapp/stats", headers={"Authorization": f"Bearer {tokens['accessToken']}"})
    assert stats.status_code == 401
