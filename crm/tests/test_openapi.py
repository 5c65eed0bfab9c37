"""The OpenAPI schema is exact: schemathesis generates requests from it and checks every answer."""

from unittest import mock

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from crm.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Schemathesis calls the WSGI app directly; like Django's test client, keep Django from closing
    the test's connection (inside its transaction) at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    # The webhook's own WSGI application (whatsapp/webhook.py) checks connections without the signals.
    with mock.patch("whatsapp.webhook.check_connection"):
        yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db) -> str:
    """A user allowed every endpoint, so that schemathesis reaches past the 403."""
    from accounts.models import User
    from conftest import grant

    user = User.objects.create_user(email="schema@example.com", password="pw-for-schemathesis")
    permissions = [
        "whatsapp.view_message",
        "whatsapp.send_message",
        "inbox.view_conversation",
        "inbox.change_conversation",
    ]
    return str(AccessToken.for_user(grant(user, *permissions)))


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
def test_every_endpoint_answers_as_its_schema_says(case, token) -> None:
    # Every answer is checked (no 5xx; status, content type, headers and body as documented). Not
    # checked: that requests outside the schema are refused — unknown query parameters are ignored
    # on purpose, and the webhook takes any JSON object, as Green API may add fields any day.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=[negative_data_rejection, positive_data_acceptance],
    )


def test_schema_and_docs_pages_are_served(client) -> None:
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_schema_documents_the_webhook_and_the_guides_endpoints(client) -> None:
    import yaml

    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]
    assert {"/auth/login", "/auth/refresh", "/whatsapp/stats", "/whatsapp/webhook"} <= set(paths)
    assert set(paths["/whatsapp/webhook"]["post"]["responses"]) == {"200", "400", "401", "413", "503"}


def test_schema_documents_refusals_and_limits(client) -> None:
    import yaml

    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]
    assert {"401", "403"} <= set(paths["/whatsapp/stats"]["get"]["responses"])
    for path in ("/whatsapp/messages", "/auth/login"):
        too_many = paths[path]["post"]["responses"]["429"]
        assert too_many["headers"]["Retry-After"]["required"] is True
    assert {"401", "403"} <= set(paths["/whatsapp/messages"]["post"]["responses"])
