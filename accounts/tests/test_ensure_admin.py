"""ensure_admin: the first admin of ./scripts/serve and of the Procfile's release line (--only-from-env)."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_superuser_env(monkeypatch) -> None:
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)


def test_the_release_line_creates_no_admin_without_the_variables_and_says_what_to_set(no_superuser_env, capsys) -> None:
    call_command("ensure_admin", "--only-from-env")
    assert not User.objects.exists()
    assert "set DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD" in capsys.readouterr().out


def test_the_release_line_refuses_half_the_variables(no_superuser_env, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "owner@example.com")
    with pytest.raises(CommandError, match="Set both"):
        call_command("ensure_admin", "--only-from-env")
    assert not User.objects.exists()


def test_the_release_line_creates_the_admin_once(no_superuser_env, monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "owner@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-1")
    call_command("ensure_admin", "--only-from-env")
    call_command("ensure_admin", "--only-from-env")
    admin = User.objects.get()
    assert (admin.email, admin.is_superuser, admin.check_password("a-long-password-1")) == (
        "owner@example.com",
        True,
        True,
    )


def test_serve_without_the_variables_creates_admin_with_a_random_password_shown_once(no_superuser_env, capsys) -> None:
    call_command("ensure_admin")
    password = capsys.readouterr().out.split("password ")[-1].strip()
    assert User.objects.get(email="admin@example.com").check_password(password)
    call_command("ensure_admin")
    assert capsys.readouterr().out == ""


def test_an_existing_user_of_that_email_stops_the_release_saying_why(no_superuser_env, monkeypatch) -> None:
    User.objects.create_user(email="owner@example.com", password="x")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "owner@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-1")
    with pytest.raises(CommandError, match="exists but is not a superuser"):
        call_command("ensure_admin", "--only-from-env")
