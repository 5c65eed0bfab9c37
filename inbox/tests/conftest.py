"""What the inbox's test modules share: the write path a test runs on, and two managers with a
conversation each."""

import pytest

from inbox.services import conversation_change
from inbox.tests.people import conversation_of, incoming, staff


@pytest.fixture(params=["fast path", "general way"])
def write_path(request, settings) -> str:
    settings.WEBHOOK_FAST_PATH = request.param == "fast path"
    return request.param


@pytest.fixture
def two_managers(post_webhook, settings):
    settings.INBOX_MANAGERS_SEE_UNASSIGNED = False
    anna, boris = staff("anna@example.com", "Managers"), staff("boris@example.com", "Managers")
    post_webhook(incoming("A-1", "Заказ Анны", number="79000000001"))
    post_webhook(incoming("B-1", "Заказ Бориса", number="79000000002"))
    post_webhook(incoming("N-1", "Ничей", number="79000000003"))
    conversation_change(conversation=conversation_of("79000000001"), actor=anna, assignee=anna)
    conversation_change(conversation=conversation_of("79000000002"), actor=boris, assignee=boris)
    return anna, boris
