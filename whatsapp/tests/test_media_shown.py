"""Files as staff and programs meet them: pictures, players and links in the conversation and on the
message's page, why a file is not there, the JSON API's media state, and byte ranges for players."""

import re

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from conftest import grant, payload, run_jobs
from crm.testing.greenapi_fake import OGG_OPUS, PDF, png
from whatsapp.models import MediaFile, Message

pytestmark = pytest.mark.django_db

THUMBNAIL = payload("incomingMessageReceived.imageMessage.json")["messageData"]["fileMessageData"]["jpegThumbnail"]


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="pw"))
    return client


def receive(post_webhook, fake, content: bytes, name: str, *, thumbnail: str = "", **how) -> Message:
    """A file message through the webhook, which asks for its download (and keeps its thumbnail)."""
    kind, mime = how.pop("kind", "imageMessage"), how.pop("mime", "")
    # The link's name as Green API's storage gives it (a uuid); the sender's name in fileName.
    extra = {"jpegThumbnail": thumbnail} if thumbnail else {}
    url = fake.add_file(content, "file.bin", **how)
    body = fake.media_notification(url, kind=kind, fileName=name, mimeType=mime, **extra)
    assert post_webhook(body).status_code == 200
    return Message.objects.get(external_id=body["idMessage"])


def conversation(staff, message: Message) -> str:
    return staff.get(f"/admin/clients/client/{message.client_id}/change/").content.decode()


def bubble(page: str, message: Message) -> str:
    start = page.index(f'data-message="{message.external_id}"')
    return page[start : page.index('<div class="meta">', start)]


def test_a_kept_picture_is_shown_from_our_storage_and_its_thumbnail_while_it_waits(
    staff, post_webhook, media_fake
) -> None:
    message = receive(post_webhook, media_fake, png(), "IMG-1.png", thumbnail=THUMBNAIL)
    waiting = bubble(conversation(staff, message), message)
    assert f'src="data:image/jpeg;base64,{THUMBNAIL}"' in waiting
    assert "being kept" in waiting
    assert "/whatsapp/media/" not in waiting

    run_jobs()
    media = MediaFile.objects.get()
    shown = bubble(conversation(staff, message), message)
    assert f'<img class="media-image" style="max-width:100%;max-height:320px" src="/whatsapp/media/{media.pk}"' in shown
    assert "data:image/jpeg" not in shown
    assert staff.get(f"/whatsapp/media/{media.pk}").status_code == 200


@pytest.mark.parametrize(
    ("kind", "content", "mime", "shown"),
    [
        ("audioMessage", OGG_OPUS, "audio/ogg; codecs=opus", "<audio"),
        ("videoMessage", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "video/mp4", "<video"),
    ],
)
def test_voice_notes_and_videos_get_a_player(staff, post_webhook, media_fake, kind, content, mime, shown) -> None:
    message = receive(post_webhook, media_fake, content, "", kind=kind, mime=mime)
    run_jobs()
    media = MediaFile.objects.get()
    assert media.state == "stored", media.reason
    html = bubble(conversation(staff, message), message)
    assert re.search(
        rf'{shown} class="media-player"[^>]* controls preload="metadata" src="/whatsapp/media/{media.pk}"', html
    )


def test_a_document_is_a_link_with_its_name_and_size(staff, post_webhook, media_fake) -> None:
    message = receive(post_webhook, media_fake, PDF * 40, "Договор №7.pdf", kind="documentMessage")
    run_jobs()
    media = MediaFile.objects.get()
    html = bubble(conversation(staff, message), message)
    assert f'<a href="/whatsapp/media/{media.pk}" download>📎 Договор №7.pdf</a>' in html
    assert "3.0\xa0KB · application/pdf" in html
    assert "<img" not in html


def test_a_file_that_could_not_be_kept_says_so_and_why(staff, post_webhook, media_fake, settings) -> None:
    settings.MEDIA_MAX_BYTES = 100
    too_big = receive(post_webhook, media_fake, PDF * 10, "big.pdf", kind="documentMessage")
    gone = receive(post_webhook, media_fake, png(), "old.png", behaviour="expired")
    run_jobs()
    page = conversation(staff, too_big)
    assert "✗ 📎 big.pdf: could not be kept: " in bubble(page, too_big)
    assert "over MEDIA_MAX_BYTES" in bubble(page, too_big)
    assert "✗ 📎 old.png: gone from WhatsApp, not kept: WhatsApp no longer has the file" in bubble(page, gone)


def test_the_messages_admin_page_shows_the_file_too(staff, post_webhook, media_fake) -> None:
    message = receive(post_webhook, media_fake, png(), "IMG-2.png")
    run_jobs()
    page = staff.get(f"/admin/whatsapp/message/{message.pk}/change/").content.decode()
    assert f'src="/whatsapp/media/{MediaFile.objects.get().pk}"' in page


def test_a_message_from_before_files_were_kept_keeps_its_link_and_a_hostile_one_stays_text(staff, post_webhook) -> None:
    post_webhook(payload("incomingMessageReceived.documentMessage.json"))
    message = Message.objects.get()
    MediaFile.objects.all().delete()  # stored before files were kept: a link and nothing else
    Message.objects.create(
        client=message.client,
        direction="inbound",
        type_message="documentMessage",
        media_url="javascript:alert(1)",
        file_name="x.pdf",
        external_id="HOSTILE",
    )
    page = conversation(staff, message)
    assert f'<a href="{message.media_url}" target="_blank" rel="noopener noreferrer">📎' in page
    assert 'href="javascript:' not in page
    assert '<small class="file-text">javascript:alert(1)</small>' in page


# -------------------------------------------------------------------------------------------------
# The JSON API: the media state, and the file itself with the same token.


def test_stats_give_each_messages_media_state_and_a_link_the_token_opens(api, post_webhook, media_fake) -> None:
    kept = receive(post_webhook, media_fake, png(), "a.png")
    run_jobs()
    waiting = receive(post_webhook, media_fake, png(), "b.png")
    post_webhook(payload("incomingMessageReceived.textMessage.json"))
    recent = {m["id"]: m for m in api.get("/whatsapp/stats").json()["recentMessages"]}
    media = MediaFile.objects.get(message=kept)
    assert recent[str(kept.pk)]["media"] == {
        "state": "stored",
        "url": f"/whatsapp/media/{media.pk}",
        "fileName": "a.png",
        "contentType": "image/png",
        "size": len(png()),
        "reason": "",
    }
    assert recent[str(waiting.pk)]["media"]["state"] == "waiting"
    assert recent[str(waiting.pk)]["media"]["url"] is None
    assert [m["media"] for m in recent.values() if m["type"] == "textMessage"] == [None]

    answer = api.get(f"/whatsapp/media/{media.pk}")
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == png()


def test_the_file_needs_a_valid_token_with_the_view_permission(client, user, post_webhook, media_fake) -> None:
    receive(post_webhook, media_fake, png(), "a.png")
    run_jobs()
    url = f"/whatsapp/media/{MediaFile.objects.get().pk}"
    assert client.get(url, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    sender = grant(User.objects.create_user(email="sender@example.com", password="pw"), "whatsapp.send_message")
    assert client.get(url, headers={"Authorization": f"Bearer {AccessToken.for_user(sender)}"}).status_code == 403
    assert client.get(url, headers={"Authorization": f"Bearer {AccessToken.for_user(user)}"}).status_code == 200


# -------------------------------------------------------------------------------------------------
# Byte ranges: players seek without fetching the whole file.


@pytest.fixture
def voice(staff, post_webhook, media_fake) -> str:
    receive(post_webhook, media_fake, OGG_OPUS * 10, "", kind="audioMessage", mime="audio/ogg; codecs=opus")
    run_jobs()
    return f"/whatsapp/media/{MediaFile.objects.get().pk}"


def test_a_range_is_answered_206_with_just_those_bytes(staff, voice) -> None:
    whole = OGG_OPUS * 10
    for asked, first, last in [
        ("bytes=10-19", 10, 19),
        ("bytes=400-", 400, len(whole) - 1),
        ("bytes=-5", len(whole) - 5, len(whole) - 1),
    ]:
        answer = staff.get(voice, headers={"Range": asked})
        assert answer.status_code == 206, asked
        assert answer["Content-Range"] == f"bytes {first}-{last}/{len(whole)}"
        assert answer["Content-Length"] == str(last - first + 1)
        assert b"".join(answer.streaming_content) == whole[first : last + 1]
        assert answer["X-Content-Type-Options"] == "nosniff"


def test_no_range_or_one_it_cannot_read_gets_the_whole_file_and_one_past_the_end_416(staff, voice) -> None:
    whole = OGG_OPUS * 10
    plain = staff.get(voice)
    assert (plain.status_code, plain["Accept-Ranges"], plain["Content-Length"]) == (200, "bytes", str(len(whole)))
    for ignored in ("bytes=0-1,5-9", "lines=1-2", "bytes=x-y"):
        answer = staff.get(voice, headers={"Range": ignored})
        assert answer.status_code == 200, ignored
        assert b"".join(answer.streaming_content) == whole
    stale = staff.get(voice, headers={"Range": "bytes=0-9", "If-Range": '"another-version"'})
    assert stale.status_code == 200
    fresh = staff.get(voice, headers={"Range": "bytes=0-9", "If-Range": plain["ETag"]})
    assert fresh.status_code == 206
    past = staff.get(voice, headers={"Range": f"bytes={len(whole)}-"})
    assert (past.status_code, past["Content-Range"]) == (416, f"bytes */{len(whole)}")


def test_the_schema_documents_the_file_link_and_each_messages_media(client) -> None:
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    media = schema["paths"]["/whatsapp/media/{mediaId}"]["get"]
    assert {"200", "206", "401", "403", "404", "416"} <= set(media["responses"])
    assert "media" in schema["components"]["schemas"]["Message"]["properties"]
    assert "media" in schema["components"]["schemas"]["RecentMessage"]["properties"]
    sending = schema["paths"]["/whatsapp/messages"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(sending)
