"""A merge of clients (the same person twice) leaves the kept client one conversation at once: the
most recently active one's status, assignee and wait, every history joined, who merged kept."""

import pytest
from django.db import transaction
from django.urls import reverse

from accounts.models import User
from clients.models import Client
from clients.services import client_merge
from inbox.models import Conversation, ConversationEvent
from inbox.services import conversation_change
from inbox.tests.people import conversation_of, incoming, staff

pytestmark = pytest.mark.django_db

OLD, NEW = "79000000011", "79000000012"


def merged_in_the_admin(http, user: User, keep: Client, other: Client) -> None:
    http.force_login(user)
    answer = http.post(
        reverse("admin:clients_client_changelist"),
        {"action": "merge", "_selected_action": [str(keep.pk), str(other.pk)], "keep": str(keep.pk)},
    )
    assert answer.status_code == 302, answer.content.decode()[:500]


def test_the_kept_client_takes_the_most_recent_conversation_with_every_history(client, post_webhook) -> None:
    anna, boris = staff("anna@example.com", "Managers"), staff("boris@example.com", "Managers")
    # Merging needs the client's delete permission, which no role holds.
    boss = User.objects.create_superuser(email="boss@example.com", password="a-long-staff-password")
    post_webhook(incoming("OLD-1", "Старый номер", number=OLD))
    conversation_change(conversation=conversation_of(OLD), actor=anna, assignee=anna)
    conversation_change(conversation=conversation_of(OLD), actor=anna, status="resolved")
    post_webhook(incoming("NEW-1", "Новый номер", number=NEW))
    conversation_change(conversation=conversation_of(NEW), actor=boris, assignee=boris, note="мой клиент")
    keep, twin = conversation_of(OLD).client, conversation_of(NEW).client
    histories = set(ConversationEvent.objects.values_list("pk", flat=True))

    merged_in_the_admin(client, boss, keep, twin)

    conversation = Conversation.objects.get()
    assert conversation.pk == keep.pk
    assert (conversation.status, conversation.assignee) == ("open", boris)  # the twin wrote last
    assert conversation.waiting_since is not None
    events = ConversationEvent.objects.filter(conversation=conversation)
    assert histories < set(events.values_list("pk", flat=True)), "every event of both is kept, on the kept one"
    merge = events.get(field=ConversationEvent.Field.MERGE)
    assert (merge.actor, merge.old, merge.new) == (boss, str(twin), str(keep))
    assert "was resolved, anna@example.com" in merge.note
    assert "now open, boris@example.com" in merge.note
    assert events.get(note="мой клиент").new == "boris@example.com"


def test_a_kept_client_who_never_wrote_has_the_twins_conversation_at_once(post_webhook) -> None:
    boris = staff("boris@example.com", "Managers")
    keep = Client.objects.create(name="Анна", phone="+79000000099")
    post_webhook(incoming("NEW-1", "Здравствуйте", number=NEW))
    twin = conversation_of(NEW).client
    conversation_change(conversation=conversation_of(NEW), actor=boris, assignee=boris)
    with transaction.atomic():
        client_merge(keep=keep, others=[twin])
    conversation = Conversation.objects.get(pk=keep.pk)
    assert (conversation.status, conversation.assignee) == ("open", boris)
    assert conversation.events.filter(field="assignee").exists()
    assert conversation.events.get(field="merge").actor is None  # merged by a program, not a person
    assert Conversation.objects.count() == 1


def test_merging_clients_who_never_wrote_makes_no_conversation(db) -> None:
    keep = Client.objects.create(name="Анна", phone="+79000000098")
    twin = Client.objects.create(name="Аня", phone="+79000000097")
    with transaction.atomic():
        client_merge(keep=keep, others=[twin])
    assert not Conversation.objects.exists()
