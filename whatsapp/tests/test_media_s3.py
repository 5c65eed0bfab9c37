"""Media kept in an S3-compatible store (django-storages), against a real local S3 server (moto's
server mode): the worker streams the file into the bucket, staff get it through the application."""

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from conftest import run_jobs
from crm.testing.greenapi_fake import png
from crm.testing.servers import free_port
from whatsapp.models import MediaFile, Message

pytestmark = pytest.mark.django_db

BUCKET = "crm-media"


@pytest.fixture
def s3(settings, monkeypatch):
    """A bucket on a local S3 server; the default storage is S3 as MEDIA_S3_* would configure it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto keeps buckets across servers in a process
    credentials = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}
    bucket = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
    bucket.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": credentials["aws_access_key_id"],
                "secret_key": credentials["aws_secret_access_key"],
                "default_acl": None,
                "file_overwrite": False,
            },
        },
    }
    bucket.server = server
    yield bucket
    server.stop()


def test_a_photo_is_kept_in_the_bucket_privately_and_served_to_staff(
    s3, post_webhook, media_fake, admin_client
) -> None:
    url = media_fake.add_file(png(), "IMG-7.jpg")
    body = media_fake.media_notification(url, mimeType="image/jpeg")
    post_webhook(body)
    run_jobs()

    media = MediaFile.objects.get()
    assert media.state == MediaFile.State.STORED, media.reason
    stored = s3.get_object(Bucket=BUCKET, Key=media.file.name)
    assert stored["Body"].read() == png()
    grants = s3.get_object_acl(Bucket=BUCKET, Key=media.file.name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"], "the owner only: never public"
    assert all(grant["Grantee"].get("Type") == "CanonicalUser" for grant in grants)

    answer = admin_client.get(f"/whatsapp/media/{media.pk}")
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == png()
    assert answer["Content-Type"] == "image/png"


def test_a_missing_file_is_404_and_an_unreachable_store_503_never_a_500(s3, admin_client) -> None:
    from clients.models import Client

    client = Client.objects.create(name="Анна", whatsapp_id="79031234567")
    message = Message.objects.create(client=client, direction="inbound", type_message="imageMessage")
    media = MediaFile.objects.create(
        message=message, state="stored", file="whatsapp/missing.png", content_type="image/png"
    )
    assert admin_client.get(f"/whatsapp/media/{media.pk}").status_code == 404, "not in the bucket"
    s3.server.stop()
    answer = admin_client.get(f"/whatsapp/media/{media.pk}")
    assert answer.status_code == 503
    assert b"cannot be reached" in answer.content
