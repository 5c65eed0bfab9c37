"""Fixtures shared by every app's tests."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client as HttpClient

# Green API's example notifications (its documented shapes, invented values), kept with the tests
# so that a clone runs them alone.
PAYLOADS = Path(__file__).resolve().parent / "whatsapp" / "tests" / "payloads"


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast by construction
    # Tests read static files from the apps (no collectstatic, no hashed names): the live server
    # serves the admin's CSS the way runserver would.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _webhook_defaults(settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = ""
    settings.LOG_MODE = "development"
    settings.WEBHOOK_LOG_FULL_BODY = True


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


@pytest.fixture
def post_webhook(client: HttpClient) -> Callable[..., object]:
    """POST a notification (a dict, or raw bytes) to /whatsapp/webhook through the whole Django stack."""

    def post(body: dict | bytes | str, **headers: str):
        data = body if isinstance(body, bytes | str) else json.dumps(body, ensure_ascii=False)
        return client.post(
            "/whatsapp/webhook",
            data=data,
            content_type="application/json",
            headers=headers,
        )

    return post


@pytest.fixture
def user(db):
    from accounts.models import User

    return User.objects.create_user(email="staff@example.com", password="correct-horse-battery")


@pytest.fixture
def api(client: HttpClient, user) -> HttpClient:
    """A test client holding a valid JWT access token."""
    answer = client.post(
        "/auth/login",
        {"email": "staff@example.com", "password": "correct-horse-battery"},
        content_type="application/json",
    )
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {answer.json()['accessToken']}"
    return client


def _on_postgres() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


postgres_only = pytest.mark.skipif(
    not _on_postgres(),
    reason="needs PostgreSQL (set DATABASE_URL); SQLite serialises every writer, so races cannot happen there",
)


@pytest.fixture
def reject_message_inserts(db):
    """A real fault in the database: inserting into `messages` fails, as after a bad deploy.

    Yields a function that repairs it. A trigger, not a patched function, so the failure travels
    the same path a real one would (the driver's exception, the savepoint, the rollback).
    """
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION reject_messages() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'messages table is read-only for maintenance'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER reject_messages BEFORE INSERT ON messages "
                "FOR EACH ROW EXECUTE FUNCTION reject_messages()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER reject_messages BEFORE INSERT ON messages "
                "BEGIN SELECT RAISE(ABORT, 'messages table is read-only for maintenance'); END"
            )

    def repair() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER reject_messages" + (" ON messages" if connection.vendor == "postgresql" else "")
            )

    return repair


@pytest.fixture
def fake_greenapi(httpserver, settings):
    """Green API, played by a real HTTP server on localhost; settings point the CRM at it."""
    from crm.testing.greenapi_fake import FakeGreenAPI

    fake = FakeGreenAPI(httpserver)
    settings.GREEN_API_URL = fake.url
    settings.GREEN_API_ID_INSTANCE = fake.id_instance
    settings.GREEN_API_TOKEN = fake.token
    settings.GREEN_API_TIMEOUT = 2.0
    return fake
