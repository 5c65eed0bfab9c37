"""The conversation workflow: each client's WhatsApp chat as a conversation with a status, an
assignee and a history of every change.

A conversation's row is made, reopened and marked "waiting for our answer" by a database trigger on
`messages` (the rules of inbox/migrations/0002; since 0005 one trigger with the client's activity),
so the webhook's one-statement path, the ORM, sends, backfills and COPY all agree. Its activity
(last message, preview, unread count) is the client's stored row (clients.ClientActivity, kept by
the same trigger): nothing is counted per row.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.models import Client


class ConversationQuerySet(models.QuerySet):
    def with_activity(self) -> "ConversationQuerySet":
        """Each conversation with its client and the client's activity, in one query; an inner join
        (see clients.models.ClientQuerySet.with_activity), so the inbox reads in an index's order."""
        return self.select_related("client__activity").filter(client__activity__isnull=False)


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PENDING = "pending", "Pending (waiting for the client)"
        RESOLVED = "resolved"
        SNOOZED = "snoozed"

    # What a message from the client ends (the triggers' list, written out in the migration).
    REOPENED_BY_CLIENT = (Status.PENDING, Status.RESOLVED, Status.SNOOZED)

    client = models.OneToOneField(Client, on_delete=models.CASCADE, primary_key=True, related_name="conversation")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        limit_choices_to={"is_staff": True, "is_active": True},
    )
    # The client's first message since our last answer (WhatsApp's time); none: nobody waits.
    waiting_since = models.DateTimeField("waiting since", null=True, blank=True, editable=False)
    instance_id = models.BigIntegerField("instance", default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        db_table = "inbox_conversations"
        verbose_name = "conversation"
        permissions = [("view_all_conversations", "Can see every conversation, whoever it is assigned to")]
        indexes = [
            models.Index(fields=["assignee", "status"], name="inbox_conv_assignee"),
            models.Index(fields=["status"], name="inbox_conv_status"),
            # Whole, not partial: the "waiting longest" sort reads it in order, nobody-waiting last.
            models.Index(fields=["waiting_since"], name="inbox_conv_waiting"),
        ]

    def __str__(self) -> str:
        return str(self.client)

    @property
    def shown_status(self) -> str:
        """A snooze that has run out is open again, without anyone writing it."""
        if self.status == self.Status.SNOOZED and self.snoozed_until and self.snoozed_until <= timezone.now():
            return self.Status.OPEN
        return self.status


def status_is(status: str) -> Q:
    """Conversations whose shown status is `status` (a snooze past its time counts as open)."""
    now = timezone.now()
    woken = Q(status=Conversation.Status.SNOOZED, snoozed_until__lte=now)
    if status == Conversation.Status.OPEN:
        return Q(status=status) | woken
    if status == Conversation.Status.SNOOZED:
        return Q(status=status) & ~woken
    return Q(status=status)


class ConversationEvent(models.Model):
    """One change of a conversation: who (none: the client's message, or the round-robin), when,
    what from what to, and the note a transfer carries."""

    class Field(models.TextChoices):
        STATUS = "status"
        ASSIGNEE = "assignee"
        MERGE = "merge", "merged"  # clients merged into this one: `from` names them, `to` the one kept

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    field = models.CharField(max_length=16, choices=Field.choices)
    old = models.CharField("from", max_length=255, blank=True)
    new = models.CharField("to", max_length=255, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        db_table = "inbox_conversation_events"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["conversation", "-at"], name="inbox_event_conversation")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old or '—'} → {self.new or '—'}"


class Agent(models.Model):
    """A staff member's place in the round-robin: new conversations go, one each in turn, to those
    marked available (nobody is, at first: auto-assignment is off until someone is)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="agent"
    )
    available = models.BooleanField("available for new conversations", default=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "inbox_agents"
        verbose_name = "agent availability"
        verbose_name_plural = "agents' availability"

    def __str__(self) -> str:
        return str(self.user)
