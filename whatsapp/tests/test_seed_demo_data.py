"""seed_demo_data: realistic rows, appended, counted by the same triggers as the webhook's."""

import io

import pytest
from django.core.management import CommandError, call_command

from clients.models import Client
from whatsapp import stats
from whatsapp.demo_data import DEMO_INSTANCE_ID
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo_data", *args, stdout=out)
    return out.getvalue()


def test_seeding_adds_the_clients_and_messages_asked_for() -> None:
    out = seed("--clients", "20", "--messages", "500", "--seed", "1", "--days", "30")
    assert "Added 500 messages for 20 clients (20 new)" in out
    assert "500/500" in out, "progress is shown"
    assert Client.objects.count() == 20
    assert Message.objects.filter(channel="whatsapp", instance_id=DEMO_INSTANCE_ID).count() == 500
    assert Message.objects.values("external_id").distinct().count() == 500
    assert all(c.whatsapp_id.isdigit() and c.whatsapp_id.startswith(("79", "77", "55")) for c in Client.objects.all())


def test_seeded_messages_look_like_the_webhooks() -> None:
    seed("--clients", "10", "--messages", "1000", "--seed", "2")
    directions = set(Message.objects.values_list("direction", "status").distinct())
    assert {("inbound", "received"), ("outbound", "read")} <= directions
    assert not {s for d, s in directions if d == "outbound"} - {"sent", "delivered", "read", "failed"}
    assert Message.objects.filter(type_message="textMessage").count() > 700
    image = Message.objects.filter(type_message="imageMessage").first()
    assert image.media_url.startswith("https://")
    assert image.mime_type == "image/jpeg"


def test_seeding_again_appends_and_the_stats_counters_follow() -> None:
    seed("--clients", "5", "--messages", "100", "--seed", "3")
    seed("--clients", "5", "--messages", "100", "--seed", "3")
    assert Message.objects.count() == 200, "same seed, fresh ids: appended, not colliding"
    assert Client.objects.count() == 5, "the same numbers are the same clients"
    assert stats.message_counts()["total"] == 200
    assert stats.clients_with_whatsapp() == 5


def test_messages_without_any_client_is_refused() -> None:
    with pytest.raises(CommandError, match="no clients"):
        seed("--clients", "0", "--messages", "10")


@pytest.mark.django_db(transaction=True)
def test_seeding_groups_adds_group_chats_each_one_conversation_with_its_writers() -> None:
    """Outside a test's transaction, as an operator runs it: each group's client commits whole."""
    from inbox.models import Conversation

    out = seed("--clients", "10", "--messages", "50", "--groups", "2", "--seed", "3")
    assert "and 2 group chats (40 messages)" in out
    groups = Client.objects.exclude(whatsapp_group=None)
    assert groups.count() == 2
    for group in groups:
        assert group.activity.message_count == 20
        assert Conversation.objects.filter(pk=group.pk).exists()
        written = group.messages.filter(direction="inbound")
        assert written.exists()
        assert not written.filter(author=None).exists(), "every participant's message has its author"
        assert not group.messages.filter(direction="outbound").exclude(author=None).exists()
    assert stats.clients_with_whatsapp() == 10, "groups are not counted as clients with WhatsApp"
