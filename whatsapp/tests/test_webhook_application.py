"""whatsapp/webhook.py: the webhook's own WSGI application, which gunicorn runs for its path, answers
exactly as the Django view at the same URL does, and keeps what Django would have done for it."""

import io
import json
import logging
from unittest import mock
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from conftest import payload
from crm.wsgi import application
from whatsapp.models import Message, Notification

pytestmark = pytest.mark.django_db


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.content = body

    def json(self) -> dict:
        return json.loads(self.content)


def call(method: str, path: str, body: bytes = b"", connections: mock.Mock | None = None, **headers: str) -> Answer:
    """One request to crm.wsgi.application, as gunicorn makes it."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": "testserver",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    setup_testing_defaults(environ)
    started: list = []

    def start_response(status: str, response_headers: list, exc_info: object = None) -> None:
        started.append((status, response_headers))

    # As Django's test client does: the test's connection, inside its transaction, stays open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with mock.patch("whatsapp.webhook.check_connection", connections or mock.Mock()):
            result = application(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):  # a WSGI server closes what it was given, when it can
                result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return Answer(*started[0], content)


def through_django(client, method: str, body: bytes = b"", **headers: str):
    return getattr(client, method.lower())(
        "/whatsapp/webhook", data=body, content_type="application/json", headers=headers
    )


TEXT = payload("incomingMessageReceived.textMessage.json")
CASES = {
    "not JSON": ("POST", b"{not json", {}),
    "not an object": ("POST", b"[1, 2]", {}),
    "too deep": ("POST", b"[" * 100_000 + b"]" * 100_000, {}),
    "wrong method": ("GET", b"", {}),
    "unknown kind": ("POST", json.dumps({"typeWebhook": "somethingNew", "idMessage": "X1"}).encode(), {}),
    "UTF-16": ("POST", json.dumps(TEXT).encode("utf-16"), {}),
    "a lone surrogate in UTF-8": ("POST", b'{"a": "\xed\xa0\x80"}', {}),
    "a number of 5,000 digits": ("POST", b'{"typeWebhook": "somethingNew", "timestamp": ' + b"9" * 5000 + b"}", {}),
}


@pytest.mark.parametrize("case", CASES)
def test_the_direct_path_answers_as_the_full_stack_does(client, case: str) -> None:
    method, body, headers = CASES[case]
    full = through_django(client, method, body, **headers)
    Notification.objects.all().delete()
    direct = call(method, "/whatsapp/webhook", body, **headers)
    assert (direct.status_code, direct.headers["content-type"]) == (full.status_code, full["Content-Type"])
    assert direct.headers.get("allow") == full.get("Allow")
    if full.status_code == 200:
        full_answer, direct_answer = full.json(), direct.json()
        assert full_answer.pop("notificationId") != direct_answer.pop("notificationId")
        assert direct_answer == full_answer
    else:
        assert direct.json() == full.json()


def test_a_notification_is_stored_and_answered(settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "s3cret"
    body = json.dumps(TEXT, ensure_ascii=False).encode()
    assert call("POST", "/whatsapp/webhook", body).status_code == 401
    answer = call("POST", "/whatsapp/webhook", body, AUTHORIZATION="Bearer s3cret")
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "processed"
    assert Message.objects.get().external_id == TEXT["idMessage"]
    assert Notification.objects.get().pk == answer.json()["notificationId"]


def test_the_webhook_skips_the_middleware_and_other_paths_do_not() -> None:
    # XFrameOptionsMiddleware and SecurityMiddleware mark every answer that goes through them.
    assert "x-frame-options" in call("GET", "/healthz").headers
    webhook = call("POST", "/whatsapp/webhook", b"{not json")
    assert webhook.status_code == 400
    assert "x-frame-options" not in webhook.headers
    assert "x-content-type-options" not in webhook.headers


def test_a_host_outside_allowed_hosts_is_refused(settings) -> None:
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    body = json.dumps(TEXT, ensure_ascii=False).encode()
    assert call("POST", "/whatsapp/webhook", body).status_code == 400
    assert not Notification.objects.exists()


def test_a_bug_gets_djangos_500_and_its_log_line(monkeypatch, caplog) -> None:
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("whatsapp.webhook.notification_receive", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        answer = call("POST", "/whatsapp/webhook", json.dumps(TEXT).encode())
    assert (answer.status_code, answer.json()) == (500, {"error": "Internal Server Error"})
    assert any("Internal Server Error: /whatsapp/webhook" in r.getMessage() for r in caplog.records)


def test_the_database_connection_is_checked_before_and_after_as_django_does_it(monkeypatch) -> None:
    calls: list[str] = []
    connections = mock.Mock(side_effect=lambda: calls.append("checked"))

    def broken(**kwargs):
        calls.append("request")
        raise RuntimeError("a bug")

    call("POST", "/whatsapp/webhook", b"{}", connections=connections)
    assert calls == ["checked", "checked"]
    calls.clear()
    monkeypatch.setattr("whatsapp.webhook.notification_receive", broken)
    assert call("POST", "/whatsapp/webhook", b"{}", connections=connections).status_code == 500
    assert calls == ["checked", "request", "checked"], "even after a bug"
