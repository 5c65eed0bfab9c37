"""Each rule of the webhook is written once: change it in its one place and both write paths follow.
Every notification kind is declared once, with its handler, or the declaration refuses it."""

import pytest

from clients.models import Client
from conftest import payload
from whatsapp import greenapi
from whatsapp.kinds import KINDS, Kind
from whatsapp.models import Message, Notification
from whatsapp.notifications import parse_message

pytestmark = pytest.mark.django_db

STATUS = "outgoingMessageStatus.{}.json".format


def sent_message(status: str) -> Message:
    client = Client.objects.create(whatsapp_id="5511987654321")
    return Message.objects.create(
        client=client, direction="outbound", status=status, external_id="BAE5F4886A9C1E21", instance_id=1103123456
    )


@pytest.mark.parametrize("fast", [False, True])
def test_a_changed_status_order_is_followed_by_both_paths(post_webhook, settings, monkeypatch, fast) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    message = sent_message("read")
    # Say a failure outranked even "read": the one ranking says so, and both paths obey it.
    monkeypatch.setitem(Message.STATUS_RANK, Message.Status.FAILED, 5)
    answer = post_webhook({**payload(STATUS("failed")), "idMessage": message.external_id}).json()
    assert (answer["outcome"], answer["detail"]) == ("processed", "")
    message.refresh_from_db()
    assert message.status == "failed"


@pytest.mark.parametrize("fast", [False, True])
def test_changed_done_outcomes_are_followed_by_both_paths(post_webhook, settings, monkeypatch, fast) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    sent_message("sent")
    body = payload(STATUS("delivered"))
    assert post_webhook(body).json()["duplicate"] is False
    # Say only ignored notifications were done: a processed one delivered again is processed again.
    monkeypatch.setattr(Notification, "DONE", (Notification.Outcome.IGNORED,))
    again = post_webhook(body).json()
    assert (again["outcome"], again["duplicate"]) == ("processed", False)
    assert Notification.objects.get().deliveries == 2


@pytest.mark.parametrize("fast", [False, True])
def test_a_done_redelivery_is_answered_as_done_by_both_paths(post_webhook, settings, fast) -> None:
    settings.WEBHOOK_FAST_PATH = fast
    sent_message("sent")
    body = payload(STATUS("delivered"))
    post_webhook(body)
    assert post_webhook(body).json()["duplicate"] is True


def test_a_kind_without_a_handler_cannot_be_declared() -> None:
    with pytest.raises(TypeError, match="needs a parser and a handler"):
        Kind("incomingMessageEdited", parse_message, None, "incomingWebhook")
    with pytest.raises(TypeError, match="an ignored kind has no parser or handler"):
        Kind("incomingMessageEdited", parse_message, None, ignored="we do not need it")
    assert Kind("someNewKind", None, None, ignored="not needed yet").ignored == "not needed yet"


def test_every_declared_kind_is_handled_or_ignored_with_a_reason() -> None:
    for name, kind in KINDS.items():
        assert name == kind.name
        assert kind.ignored or (callable(kind.parse) and callable(kind.handle)), name


def test_greenapi_asks_for_the_settings_the_kinds_declare() -> None:
    # greenapi_configure and the doctor ask for these; each kind's declaration says which it needs.
    required = {kind.setting for kind in KINDS.values() if kind.wanted == "required"}
    recommended = {kind.setting for kind in KINDS.values() if kind.wanted == "recommended"}
    assert required == set(greenapi.REQUIRED_NOTIFICATIONS)
    assert recommended <= set(greenapi.RECOMMENDED_NOTIFICATIONS)
    known = {kind.setting for kind in KINDS.values() if kind.setting}
    assert known >= required | recommended


def test_an_undeclared_kind_is_kept_as_ignored_and_answered_200(post_webhook) -> None:
    answer = post_webhook({"typeWebhook": "someFutureKind", "idMessage": "X1"})
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored"
    assert Notification.objects.get().detail == "unknown typeWebhook 'someFutureKind'"
