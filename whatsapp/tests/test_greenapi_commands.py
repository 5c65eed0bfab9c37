"""greenapi_status and greenapi_configure against a local Green API."""

import io

import pytest
from django.core.management import CommandError, call_command

# Every call to Green API takes its turn under the instance's rate limits in the cache: the database.
pytestmark = pytest.mark.django_db

URL = "https://crm.example.com/whatsapp/webhook"


def status(**options: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("greenapi_status", stdout=out, stderr=err, **options)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_a_fresh_instance_fails_the_check_with_a_fix_for_each_problem(fake_greenapi, settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "our-token"
    code, out = status(webhook_url=URL)
    assert code == 1
    assert "state:          authorized" in out
    assert "webhook URL:    (empty)" in out
    assert "webhook token:  set here, not in Green API" in out
    for key in ["incomingWebhook", "outgoingMessageWebhook", "outgoingAPIMessageWebhook", "outgoingWebhook"]:
        assert f"{key} is off" in out
    assert f"fix: manage.py greenapi_configure --webhook-url {URL}" in out
    assert "our-token" not in out


def test_configure_then_status_passes(fake_greenapi, settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "our-token"
    out = io.StringIO()
    call_command("greenapi_configure", webhook_url=URL, stdout=out)
    printed = out.getvalue()
    assert f"webhookUrl: (empty) → {URL}" in printed
    assert "incomingWebhook: no → yes" in printed
    assert "webhookUrlToken: empty → ours (not shown)" in printed
    assert "our-token" not in printed
    assert fake_greenapi.settings["webhookUrlToken"] == "our-token"
    code, out_status = status(webhook_url=URL)
    assert code == 0, out_status
    assert "✅ The instance is set up as the CRM needs." in out_status
    again = io.StringIO()
    call_command("greenapi_configure", webhook_url=URL, stdout=again)
    assert "Nothing to change" in again.getvalue()


def test_dry_run_changes_nothing(fake_greenapi, settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "t"
    call_command("greenapi_configure", webhook_url=URL, dry_run=True, stdout=io.StringIO())
    assert fake_greenapi.settings["webhookUrl"] == ""


def test_configure_refuses_to_leave_the_webhook_open_unless_asked(fake_greenapi, settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = ""
    with pytest.raises(CommandError, match="GREEN_API_WEBHOOK_TOKEN is not set"):
        call_command("greenapi_configure", webhook_url=URL, stdout=io.StringIO())
    call_command("greenapi_configure", webhook_url=URL, no_token=True, stdout=io.StringIO())
    assert fake_greenapi.settings["webhookUrl"] == URL


def test_status_reports_a_token_mismatch_and_an_unauthorized_instance(fake_greenapi, settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "ours"
    fake_greenapi.settings.update({"webhookUrl": URL, "webhookUrlToken": "theirs"})
    fake_greenapi.settings.update(
        dict.fromkeys(
            ["incomingWebhook", "outgoingMessageWebhook", "outgoingAPIMessageWebhook", "outgoingWebhook"], "yes"
        )
    )
    fake_greenapi.state = "notAuthorized"
    code, out = status(webhook_url=URL)
    assert code == 1
    assert "instance state is notAuthorized" in out
    assert "scan the QR code" in out
    assert "webhookUrlToken differs" in out
    assert "theirs" not in out


def test_status_with_green_api_unreachable_fails_clearly(settings) -> None:
    settings.GREEN_API_URL, settings.GREEN_API_ID_INSTANCE, settings.GREEN_API_TOKEN = "http://127.0.0.1:9", "1", "t"
    code, out = status()
    assert code == 1
    assert "Cannot reach Green API" in out


def test_status_without_settings_names_them(settings) -> None:
    settings.GREEN_API_TOKEN = ""
    code, out = status()
    assert code == 1
    assert "GREEN_API_TOKEN" in out


def test_configure_reports_green_api_errors(fake_greenapi, settings) -> None:
    settings.GREEN_API_WEBHOOK_TOKEN = "t"
    fake_greenapi.fail_with = 429
    with pytest.raises(CommandError, match="rate limit"):
        call_command("greenapi_configure", webhook_url=URL, stdout=io.StringIO())
