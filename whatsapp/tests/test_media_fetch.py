"""The worker fetches only http(s) links to public addresses, or to hosts MEDIA_FETCH_ALLOWED_HOSTS
names: a webhook body cannot make the server fetch from inside its own network."""

import pytest
from django.db import transaction

from clients.models import Client
from conftest import run_jobs
from crm.testing.greenapi_fake import png
from whatsapp.fetch import Refused, allowed_entry, host_allowed, public_address
from whatsapp.media import media_enqueue
from whatsapp.models import MediaFile, Message

pytestmark = pytest.mark.django_db


def download(post_webhook, fake, url: str) -> MediaFile:
    body = fake.media_notification(url)
    post_webhook(body)
    run_jobs()
    return MediaFile.objects.get()


def key(url: str) -> str:
    return url.split("/")[-2]


def test_a_link_to_a_private_address_is_refused_without_a_request(post_webhook, media_fake) -> None:
    url = media_fake.add_file(png())
    # The fake's own file, named by its address instead of the allowed host name.
    private = url.replace("//localhost:", "//127.0.0.1:")
    media = download(post_webhook, media_fake, private)
    assert media.state == MediaFile.State.FAILED
    assert "127.0.0.1 is not a public address" in media.reason
    assert media_fake.files[key(url)].fetches == 0


def test_an_allowed_host_is_allowed_on_its_port_only(post_webhook, media_fake, settings) -> None:
    url = media_fake.add_file(png())
    settings.MEDIA_FETCH_ALLOWED_HOSTS = [f"localhost:{media_fake.server.port + 1}"]
    media = download(post_webhook, media_fake, url)
    assert media.state == MediaFile.State.FAILED
    assert "localhost is not a public address" in media.reason
    assert media_fake.files[key(url)].fetches == 0


def test_a_redirect_into_the_private_network_is_refused(post_webhook, media_fake) -> None:
    target = media_fake.add_file(png())
    hop = media_fake.add_file(b"", behaviour="redirect", location=target.replace("//localhost:", "//127.0.0.1:"))
    media = download(post_webhook, media_fake, hop)
    assert media.state == MediaFile.State.FAILED
    assert "not a public address" in media.reason
    assert media_fake.files[key(hop)].fetches == 1
    assert media_fake.files[key(target)].fetches == 0


def test_a_redirect_to_an_allowed_host_is_followed(post_webhook, media_fake) -> None:
    target = media_fake.add_file(png())
    hop = media_fake.add_file(b"", behaviour="redirect", location=target)
    assert download(post_webhook, media_fake, hop).state == MediaFile.State.STORED


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://files.example.com/a.jpg", "gopher://x/", "http:///x"])
def test_links_that_are_not_http_are_refused(media_fake, url) -> None:
    # The parser keeps no such link (whatsapp.content); the worker refuses it all the same.
    client = Client.objects.create(whatsapp_id="79031234567")
    with transaction.atomic():
        message = Message.objects.create(client=client, direction="inbound", type_message="imageMessage", media_url=url)
        media_enqueue(message=message)
    run_jobs()
    media = MediaFile.objects.get()
    assert media.state == MediaFile.State.FAILED
    assert "not an http(s) link" in media.reason


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "::1",
        "::ffff:127.0.0.1",
        "fd00::1",
        "fe80::1",
        "224.0.0.1",
    ],
)
def test_addresses_inside_a_network_are_never_public(address) -> None:
    with pytest.raises(Refused):
        public_address(address, 80)


def test_a_public_address_is_connected_to_as_checked() -> None:
    assert public_address("8.8.8.8", 443) == "8.8.8.8"
    assert public_address("2001:4860:4860::8888", 443) == "2001:4860:4860::8888"


def test_allowed_hosts_are_read_with_or_without_a_port(settings) -> None:
    assert allowed_entry("LocalHost:8080") == ("localhost", 8080)
    assert allowed_entry("[::1]:9000") == ("::1", 9000)
    assert allowed_entry("[::1]") == ("::1", None)
    assert allowed_entry("files.internal") == ("files.internal", None)
    settings.MEDIA_FETCH_ALLOWED_HOSTS = ["files.internal", "localhost:8080"]
    assert host_allowed("files.internal", 443)
    assert host_allowed("localhost", 8080)
    assert not host_allowed("localhost", 8081)
    assert not host_allowed("127.0.0.1", 8080)
