"""Health checks, deployment settings, and what DEBUG=false shows to strangers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "false",
    "HTTPS": "true",
    "SECRET_KEY": "x7!k2m@q9#v4$z8^w1&n6*r3(p5)t0_y-u=i+o[e]a{s}d|f;g:h'j,l.c<b>",
    "ALLOWED_HOSTS": "crm.example.com",
}


def test_healthz_needs_nothing(client) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_migrated(client) -> None:
    assert client.get("/readyz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_with_the_reason_when_a_migration_is_missing(client) -> None:
    MigrationRecorder.Migration.objects.filter(app="whatsapp").order_by("-id").first().delete()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "migrations not applied" in answer.json()["reason"]
    assert any(name.startswith("whatsapp.") for name in answer.json()["migrations"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL to take the server away")
def test_readyz_is_503_when_the_database_is_down(client) -> None:
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        answer = client.get("/readyz")
        assert client.get("/healthz").status_code == 200, "liveness does not depend on the database"
    finally:
        connection.close()
        connection.settings_dict.update(original)
    assert answer.status_code == 503
    assert answer.json()["reason"].startswith("database")


def check_deploy(env: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = check_deploy({**os.environ, **PRODUCTION})
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_with_the_development_key() -> None:
    env = {**os.environ, **PRODUCTION}
    del env["SECRET_KEY"]
    result = check_deploy(env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stdout + result.stderr


@pytest.mark.django_db
def test_debug_off_never_shows_a_traceback(client, settings) -> None:
    settings.DEBUG = False
    client.raise_request_exception = False
    answer = client.get("/admin/whatsapp/message/not-a-uuid/change/")
    assert answer.status_code in (302, 404)
    body = client.get("/no-such-page").content.decode()
    assert "Traceback" not in body
    assert "settings" not in body.lower()


@pytest.mark.django_db
def test_webhook_is_never_redirected(client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    answer = client.post("/whatsapp/webhook", data="{}", content_type="application/json")
    assert answer.status_code == 200
    assert client.post("/whatsapp/webhook/", data="{}", content_type="application/json").status_code == 404
    # Everything else does go to HTTPS.
    assert client.get("/admin/").status_code == 301
