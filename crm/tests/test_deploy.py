"""Health checks, deployment settings, and what DEBUG=false shows to strangers."""

import os
import re
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
    "GREEN_API_WEBHOOK_TOKEN": "a-long-random-webhook-token-shared-with-green-api",
    "LOG_MODE": "production",
    "NUM_PROXIES": "1",
}
SETTINGS = (ROOT / "crm" / "settings.py").read_text()
BOOLEANS = sorted(set(re.findall(r'env\.bool\("(\w+)"', SETTINGS)))


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
@pytest.mark.parametrize(
    ("setting", "value", "secret"),
    [("PORT", "1", "port 1 failed"), ("USER", "no_such_crm_role", "no_such_crm_role")],
)
def test_readyz_is_503_when_the_database_is_down_and_tells_only_the_log_why(
    client, caplog, setting, value, secret
) -> None:
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict[setting] = value
    try:
        answer = client.get("/readyz")
        assert client.get("/healthz").status_code == 200, "liveness does not depend on the database"
    finally:
        connection.close()
        connection.settings_dict.update(original)
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "reason": "database unavailable"}
    assert secret in caplog.text, "the operator reads why in the log"
    for private in (secret, "127.0.0.1", original["USER"] or "postgres", original["NAME"]):
        assert private not in answer.content.decode()


def check_deploy(env: dict, fail_level: str = "WARNING") -> subprocess.CompletedProcess:
    env = {k: v for k, v in env.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", fail_level]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = check_deploy({**os.environ, **PRODUCTION})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("key", ["", "django-insecure-local-development-key-change-me"])
def test_check_deploy_fails_with_the_development_key_as_an_error(key) -> None:
    # "" and not unset: a .env left by ./scripts/serve would fill an unset SECRET_KEY.
    env = {**os.environ, **PRODUCTION, "SECRET_KEY": key}
    result = check_deploy(env, fail_level="ERROR")
    assert result.returncode != 0
    assert "(crm.E001) SECRET_KEY is not set" in result.stdout + result.stderr


def test_check_deploy_warns_that_the_webhook_accepts_anyone_without_its_token() -> None:
    result = check_deploy({**os.environ, **PRODUCTION, "GREEN_API_WEBHOOK_TOKEN": ""})
    assert result.returncode != 0
    assert "(crm.W001) GREEN_API_WEBHOOK_TOKEN is not set" in result.stdout + result.stderr


def test_every_boolean_setting_is_read() -> None:
    assert {"DEBUG", "HTTPS", "WEBHOOK_FAST_PATH", "DB_SERVER_SIDE_BINDING"} <= set(BOOLEANS)


@pytest.mark.parametrize(("variable", "value"), [(name, "maybe") for name in BOOLEANS] + [("DEBUG", "ture")])
def test_a_bad_boolean_stops_the_start_naming_its_variable(variable, value) -> None:
    # A PostgreSQL URL, never connected to: the database's booleans are read only for PostgreSQL.
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/crm_never_used", variable: value}
    result = check_deploy(env)
    assert result.returncode != 0
    assert f"{variable}={value!r} cannot be read: not a boolean" in result.stderr


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "on", "false", "0", "no", "off", "FALSE"])
def test_the_usual_spellings_of_a_boolean_are_read(value) -> None:
    result = check_deploy({**os.environ, **PRODUCTION, "SECURE_HSTS_PRELOAD": value}, fail_level="ERROR")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "three thousand", "PORT='three thousand' cannot be read"),
        ("PUBLIC_URL", "crm.example.com", "PUBLIC_URL must be an http(s) address"),
        ("GREEN_API_RECEIVE", "polling", "GREEN_API_RECEIVE must be 'webhook' or 'poll', not 'polling'"),
        ("GREEN_API_BACKFILL_MINUTES", "-5", "GREEN_API_BACKFILL_MINUTES must be 0 (off) or more, not -5"),
    ],
)
def test_any_other_bad_value_stops_the_start_naming_its_variable(variable, value, message) -> None:
    result = check_deploy({**os.environ, variable: value})
    assert result.returncode != 0
    assert message in result.stderr


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
