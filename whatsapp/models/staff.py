"""What staff add around the conversation: canned replies, private notes, business hours. None of it
is a message: nothing here is counted, exported, sent or read by the webhook's write paths."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from whatsapp.models.messages import Instance, Message


class CannedReply(models.Model):
    """A quick reply: `/shortcut` in the reply box inserts its text (whatsapp/replies.py renders it).
    Shared when it has no owner (everyone uses it; editing it needs `manage_shared_replies`),
    personal otherwise (only its owner sees it)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_replies",
        help_text="Empty: shared with everyone.",
    )
    shortcut = models.SlugField(max_length=32, help_text="Typed after / in the reply box: /hello.")
    text = models.TextField(help_text="Placeholders: {client_name}, {agent_name}.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "whatsapp_canned_replies"
        ordering = ["shortcut"]
        verbose_name_plural = "canned replies"
        permissions = [("manage_shared_replies", "Can manage shared canned replies")]
        constraints = [
            models.UniqueConstraint(fields=["owner", "shortcut"], name="canned_personal_shortcut"),
            models.UniqueConstraint(fields=["shortcut"], condition=Q(owner=None), name="canned_shared_shortcut"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"

    @property
    def shared(self) -> bool:
        return self.owner_id is None


class Note(models.Model):
    """A private note of staff in a client's conversation: shown among the messages, never sent, never
    a message (its own table, so no count, export or trigger of `messages` sees it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="notes")
    # The author's name is kept as written, so a note outlives its author's account.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    author_name = models.CharField(max_length=255)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "whatsapp_notes"
        indexes = [models.Index(fields=["client", "created_at"], name="notes_client_created")]

    def __str__(self) -> str:
        return self.text[:60]


class OpeningHours(models.Model):
    """One opening of an instance on a weekday, in its time zone; a weekday without any is closed."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.SmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text="00:00 means midnight, the end of the day.")

    class Meta:
        db_table = "whatsapp_opening_hours"
        ordering = ["instance", "weekday", "opens"]
        verbose_name_plural = "opening hours"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.closes != self.closes.min:
            if self.closes <= self.opens:
                raise ValidationError({"closes": "Closes after it opens (00:00 for midnight)."})


class AutoReply(models.Model):
    """The automatic reply of one chat on one day (in the instance's time zone): the unique row is what
    makes it once, however many messages arrive at once (whatsapp/hours.py)."""

    instance_id = models.BigIntegerField()
    chat_id = models.CharField(max_length=128)
    day = models.DateField()
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The message it became (stored, then sent); null until the job stores it. No database
    # constraint, as for media: the guide's raw `DELETE FROM messages` must keep working.
    message = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="auto_reply", db_constraint=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "whatsapp_auto_replies"
        verbose_name_plural = "auto replies"
        constraints = [
            models.UniqueConstraint(fields=["instance_id", "chat_id", "day"], name="auto_reply_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.chat_id} {self.day}"
