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
    # A key of the tests' own: crm/wsgi.py, which some tests import, refuses the development default.
    settings.SECRET_KEY = "tests-only-secret-key-" + "x" * 40
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


@pytest.fixture(autouse=True)
def _business_hours_read_afresh() -> None:
    """Each process keeps what it read of business hours for a few seconds (whatsapp/hours.py); a test's
    rows are gone after it, so each test reads its own."""
    from whatsapp.hours import hours_forget

    hours_forget()
    yield
    hours_forget()


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


def grant(user, *permissions: str):
    """Give `user` Django permissions named "app.codename"; returns the user, its permission cache fresh."""
    from django.contrib.auth.models import Permission

    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def user(db):
    """An API user allowed what the JSON API offers: reading statistics and sending."""
    from accounts.models import User

    user = User.objects.create_user(email="staff@example.com", password="correct-horse-battery")
    return grant(user, "whatsapp.view_message", "whatsapp.send_message")


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


def needs_postgres(why: str) -> pytest.MarkDecorator:
    """Skip on SQLite, saying why this test needs PostgreSQL."""
    return pytest.mark.skipif(not _on_postgres(), reason=f"needs PostgreSQL (set DATABASE_URL): {why}")


postgres_only = needs_postgres("SQLite serialises every writer, so races cannot happen there")


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


@pytest.fixture
def threaded_greenapi(settings):
    """Green API on a server that answers several callers at once (two receivers, long polls)."""
    from pytest_httpserver import HTTPServer

    from crm.testing.greenapi_fake import FakeGreenAPI

    server = HTTPServer(threaded=True)
    server.start()
    fake = FakeGreenAPI(server)
    settings.GREEN_API_URL = fake.url
    settings.GREEN_API_ID_INSTANCE = fake.id_instance
    settings.GREEN_API_TOKEN = fake.token
    settings.GREEN_API_TIMEOUT = 2.0
    yield fake
    server.clear()
    server.stop()


@pytest.fixture
def no_backfill_yet(db):
    """The last backfill's report lives in the cache, which no test's rollback or flush empties."""
    from django.core.cache import cache

    from whatsapp.backfill import LAST_RUN_KEY

    cache.delete(LAST_RUN_KEY)
    yield
    cache.delete(LAST_RUN_KEY)


def greenapi_env(fake) -> dict[str, str]:
    """The environment that points a process of the CRM at the fake Green API."""
    return {
        "GREEN_API_URL": fake.url,
        "GREEN_API_ID_INSTANCE": fake.id_instance,
        "GREEN_API_TOKEN": fake.token,
        "GREEN_API_TIMEOUT": "3",
        "GREEN_API_WEBHOOK_TOKEN": "",
    }


@pytest.fixture
def media_root(settings, tmp_path):
    """Files kept by the media worker go to a fresh folder (the file-system storage's default)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def media_fake(fake_greenapi, settings, media_root):
    """Green API playing its file host too; the worker may fetch from it (it is not public)."""
    settings.MEDIA_FETCH_ALLOWED_HOSTS = [f"{fake_greenapi.server.host}:{fake_greenapi.server.port}"]
    settings.MEDIA_FETCH_SECONDS = 5.0
    return fake_greenapi


def run_jobs() -> None:
    """Run every job that is due, in this process and the test's transaction, then return.

    The library's own Worker.run_task runs each (signals, retries, failures as in the Procfile's
    worker); its loop is left out because it closes connections between jobs, which would end
    the test's transaction. test_worker.py runs the real process.
    """
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    for _ in range(1000):
        result = DBTaskResult.objects.ready().filter(backend_name="default").first()
        if result is None:
            return
        result.claim(worker.worker_id)
        worker.run_task(result)


def make_jobs_due() -> None:
    """Time passes: retries scheduled for later are due now."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
