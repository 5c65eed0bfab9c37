"""What Green API sends, read as a person would: links, polls, replies, calls, devices, statuses."""

import pytest

from clients.models import Client
from conftest import payload
from whatsapp.models import Instance, Message, Notification

pytestmark = pytest.mark.django_db

# Each test that stores a message runs both ways: the fast path (PostgreSQL) and the general one.
both_ways = pytest.mark.parametrize("fast", [False, True], ids=["general", "fast"])


def post_both_ways(post_webhook, settings, fast: bool, body: dict) -> Message:
    settings.WEBHOOK_FAST_PATH = fast
    Client.objects.get_or_create(whatsapp_id=body["senderData"]["sender"].split("@")[0])
    assert post_webhook(body).json()["outcome"] == "processed"
    return Message.objects.get(external_id=body["idMessage"])


@both_ways
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "ftp://files.example.com/a.pdf",
        "//evil.example.com/a.pdf",
        "https:evil.example.com",
        "https://",
        "https://evil.example.com/a b",
    ],
)
def test_a_file_link_that_is_not_an_http_url_is_kept_as_text_not_as_a_link(
    post_webhook, settings, fast: bool, url: str
) -> None:
    body = payload("incomingMessageReceived.documentMessage.json")
    body["messageData"]["fileMessageData"]["downloadUrl"] = url
    message = post_both_ways(post_webhook, settings, fast, body)
    assert message.media_url == ""
    assert message.content.startswith("Реквизиты для счёта — file link not kept (not an http(s) address): ")
    assert url.strip() in message.content


@both_ways
@pytest.mark.parametrize("url", ["https://sw-media-1103.storage.yandexcloud.net/1103/a.pdf", "HTTP://example.com/a"])
def test_an_http_file_link_is_kept_as_the_link(post_webhook, settings, fast: bool, url: str) -> None:
    body = payload("incomingMessageReceived.documentMessage.json")
    body["messageData"]["fileMessageData"]["downloadUrl"] = url
    message = post_both_ways(post_webhook, settings, fast, body)
    assert (message.media_url, message.content) == (url, "Реквизиты для счёта")
