"""What Green API tells us, kept: notifications as received, messages, instances, counts, media files,
and the exports staff ask for."""

import json
import uuid
import zoneinfo
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from whatsapp.placeholders import PlaceholderError, placeholders_check


class Notification(models.Model):
    """One Green API notification exactly as it was POSTed, and what became of it.

    Written before any processing, in the same transaction: whatever the processing does, the
    notification is there to look at and to replay (`manage.py replay_notifications`).
    """

    class Outcome(models.TextChoices):
        PROCESSED = "processed"
        IGNORED = "ignored"
        FAILED = "failed"
        WAITING = "waiting", "Waiting for its message"

    # A redelivery of a notification that ended so is answered as done; a failed or waiting one is
    # processed again. Both write paths read this (services._done, fast_path's ON CONFLICT).
    DONE = (Outcome.PROCESSED, Outcome.IGNORED)

    # No index: ids grow with arrival, so "newest first" is the primary key backwards.
    received_at = models.DateTimeField(default=timezone.now)
    type_webhook = models.CharField(max_length=64, blank=True)
    instance_id = models.BigIntegerField(default=0, help_text="instanceData.idInstance (0: none given)")
    id_message = models.CharField(max_length=128, blank=True)
    # Green API redelivers on any non-200 and sometimes on its own (REFERENCE §9): the identity
    # (instance, type, idMessage, status) or, for notifications without an idMessage, a hash of
    # the body, makes each distinct notification one row.
    dedupe_key = models.CharField(max_length=255)
    deliveries = models.PositiveIntegerField(default=1)
    body = models.TextField(help_text="The JSON body as received.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PROCESSED)
    detail = models.TextField(blank=True, help_text="Why it was ignored, or the error.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "whatsapp_notifications"
        ordering = ["-id"]
        # Every index costs each webhook an insert and WAL. Most notifications end processed and
        # are never looked up again, so the lookups staff and the doctor make (failed, waiting)
        # use partial indexes that hold only those few rows.
        constraints = [
            # A constraint rather than unique=True, which on PostgreSQL adds a second index for
            # LIKE queries that nothing makes.
            models.UniqueConstraint(fields=["dedupe_key"], name="notif_dedupe_key"),
        ]
        indexes = [
            models.Index(
                fields=["instance_id", "id_message"],
                name="notif_waiting_by_message",
                condition=Q(outcome="waiting"),
            ),
            models.Index(
                fields=["outcome", "received_at"],
                name="notif_unprocessed",
                condition=~Q(outcome="processed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type_webhook or '?'} {self.id_message}".strip()

    def finish(self, outcome: str, detail: str) -> None:
        """Record what became of the notification."""
        self.outcome = outcome
        self.detail = detail[:2000]
        self.processed_at = timezone.now()
        self.save(update_fields=["outcome", "detail", "processed_at"])

    @property
    def body_pretty(self) -> str:
        try:
            return json.dumps(json.loads(self.body), indent=2, ensure_ascii=False)
        except ValueError:
            return self.body


# A conversation, newest first: by WhatsApp's time (whole seconds), then by arrival.
CONVERSATION_ORDER = ["-sent_at", "-created_at"]


class Message(models.Model):
    """A WhatsApp message of a client, inbound or outbound; one row per Green API idMessage."""

    class Direction(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND = "outbound"

    class Status(models.TextChoices):
        RECEIVED = "received"  # inbound
        PENDING = "pending"  # outbound, stored before Green API answered
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        NO_ACCOUNT = "noAccount", "No WhatsApp account"
        NOT_IN_GROUP = "notInGroup", "Not in group"
        YELLOW_CARD = "yellowCard", "Yellow card (spam)"

    CHANNEL = "whatsapp"  # every message this app stores; other channels may share the table

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: messages_client_sent (client, -sent_at, -created_at) serves every lookup by client.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="messages", db_index=False)
    # In a group chat (`client` is the group) the participant who wrote it, a client of their own;
    # none in a chat of one person, and for what we wrote. Indexed only where set (messages_author).
    author = models.ForeignKey(
        Client,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored",
        db_index=False,
        help_text="In a group chat: the participant who wrote it.",
    )
    channel = models.CharField(max_length=16, default=CHANNEL)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    type_message = models.CharField("type", max_length=64, blank=True)
    content = models.TextField(blank=True)
    external_id = models.CharField("idMessage", max_length=128, null=True, blank=True)
    instance_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    status_description = models.TextField(blank=True)
    chat_id = models.CharField(max_length=128, blank=True, help_text="The chat as Green API names it.")
    chat_name = models.CharField(max_length=255, blank=True, help_text="The group's name, for group chats.")
    sender_name = models.CharField(max_length=255, blank=True)
    media_url = models.URLField(max_length=2048, blank=True)
    file_name = models.CharField(max_length=512, blank=True)
    mime_type = models.CharField(max_length=128, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    quoted_external_id = models.CharField("quotes idMessage", max_length=128, blank=True)
    # What the reply quotes, as its notification carried it: shown when the quoted message is not
    # stored here (older than the CRM, deleted). Defaults, so bulk loads that predate them work.
    quoted_content = models.TextField("quoted text", blank=True, default="")
    quoted_sender = models.CharField("quoted sender", max_length=128, blank=True, default="", help_text="Who wrote it.")
    previous_contents = models.JSONField(default=list, blank=True, help_text="Texts before each edit.")
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    reaction = models.CharField(max_length=32, blank=True)
    # What the conversation is ordered by: a message redelivered after an outage takes its place.
    sent_at = models.DateTimeField(
        default=timezone.now,
        help_text="WhatsApp's time; when it arrived (or was sent from here) if WhatsApp gave none.",
    )
    # Set by the backfill (whatsapp/backfill.py) when it stored the message from Green API's history:
    # the webhook or the queue missed it. Null by default, so both write paths leave it as it is.
    recovered_at = models.DateTimeField(
        "recovered", null=True, blank=True, help_text="When the backfill found it in Green API's history."
    )
    # Neither an index nor a database constraint: the webhook writes a message and its notification
    # in one statement, so the reference is right by construction, and each would cost every
    # incoming message an index entry and a foreign-key check. Notifications are never deleted
    # (the admin does not offer it); nothing looks messages up by notification.
    notification = models.ForeignKey(
        Notification,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "messages"
        ordering = ["-created_at"]
        # Sending reaches a client's phone: a right of its own, apart from editing rows. The admin's
        # reply box and POST /whatsapp/messages both require it.
        permissions = [("send_message", "Can send WhatsApp messages")]
        constraints = [
            # The database, not a prior SELECT, stops a redelivered notification from making a
            # second row, however many arrive at once.
            models.UniqueConstraint(
                fields=["channel", "instance_id", "external_id"],
                name="messages_channel_instance_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["client", *CONVERSATION_ORDER], name="messages_client_sent"),
            # The message list's order as the admin writes it (newest first, then the primary key),
            # with what the admin index counts by (whatsapp/stats.py): a deep page's ids and a
            # count of today's messages by direction are read from the index alone.
            models.Index(
                fields=["-created_at", "-id"], include=["channel", "direction"], name="messages_created_order"
            ),
            # Few rows: what the doctor and /whatsapp/stats count, at no cost to the webhook's inserts.
            models.Index(fields=["-recovered_at"], name="messages_recovered", condition=Q(recovered_at__isnull=False)),
            # The groups a participant writes in (their client page), and what a merge moves.
            models.Index(fields=["author", "client"], name="messages_author", condition=Q(author__isnull=False)),
        ]

    def __str__(self) -> str:
        return (self.content or self.type_message)[:60]

    # Statuses only move forward. A failure outranks "sent" (the message did not go) but not
    # "delivered" or "read" (it evidently did).
    STATUS_RANK = {
        Status.RECEIVED: 0,
        Status.PENDING: 0,
        Status.SENT: 1,
        Status.FAILED: 2,
        Status.NO_ACCOUNT: 2,
        Status.NOT_IN_GROUP: 2,
        Status.YELLOW_CARD: 2,
        Status.DELIVERED: 3,
        Status.READ: 4,
    }

    @classmethod
    def statuses_behind(cls, status: str) -> list[str]:
        """The statuses a message may leave for `status`: those ranked below it."""
        rank = cls.STATUS_RANK[status]
        return [behind for behind, r in cls.STATUS_RANK.items() if r < rank]

    def advance_status(self, status: str, description: str = "") -> bool:
        """Take `status` if it is ahead of the current one; True when it changed."""
        if self.STATUS_RANK.get(status, -1) <= self.STATUS_RANK.get(self.status, 0):
            return False
        self.status = status
        self.status_description = description
        return True

    def edit(self, new_content: str, at: timezone.datetime) -> None:
        if new_content == self.content:
            return
        self.previous_contents = [*self.previous_contents, self.content]
        self.content = new_content
        self.edited_at = at


class Instance(models.Model):
    """The latest known state of a Green API instance, from its instance notifications."""

    id_instance = models.BigIntegerField(primary_key=True)
    wid = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=32, blank=True, help_text="authorized, notAuthorized, blocked, …")
    state_changed_at = models.DateTimeField(null=True, blank=True)
    socket_status = models.CharField(max_length=16, blank=True, help_text="online / offline")
    socket_changed_at = models.DateTimeField(null=True, blank=True)
    device = models.JSONField(default=dict, blank=True)
    quota = models.JSONField(default=dict, blank=True)
    quota_exceeded_at = models.DateTimeField(null=True, blank=True)
    last_blocked_at = models.DateTimeField(null=True, blank=True)
    # Business hours (whatsapp/hours.py): the only fields staff edit; the rest is what Green API said.
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="Where the opening hours are read, e.g. Europe/Moscow (empty: TIME_ZONE)."
    )
    auto_reply_enabled = models.BooleanField(
        "automatic reply outside opening hours",
        default=False,
        help_text="Once per chat per day, to a client who writes while closed.",
    )
    auto_reply_text = models.TextField(
        "automatic reply", blank=True, help_text="What it says; {client_name} is replaced by the client's name."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "whatsapp_instances"
        ordering = ["id_instance"]

    def __str__(self) -> str:
        return f"{self.id_instance} ({self.state or 'state unknown'})"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)

    def clean(self) -> None:
        errors = {}
        try:
            self.zone  # noqa: B018 - reading it is the check
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = f"“{self.time_zone}” is not a time zone (Europe/Moscow, UTC…)."
        try:
            placeholders_check(self.auto_reply_text, allowed={"client_name"})
        except PlaceholderError as error:
            errors["auto_reply_text"] = str(error)
        if self.auto_reply_enabled and not self.auto_reply_text.strip():
            errors["auto_reply_text"] = "Write the automatic reply, or turn it off."
        if errors:
            raise ValidationError(errors)


class MessageCount(models.Model):
    """Running totals of `messages` by (channel, direction, status), kept by database triggers.

    /whatsapp/stats reads these few rows instead of counting millions. Triggers (not Python) keep
    them, so the guide's raw `DELETE FROM messages …` keeps them right too. PostgreSQL only: on
    SQLite (development) the stats count the rows themselves. Each connection adds to
    its own `slot` row, so concurrent webhooks never wait on one hot counter row; readers sum slots.
    """

    channel = models.CharField(max_length=16)
    direction = models.CharField(max_length=8)
    status = models.CharField(max_length=16)
    slot = models.SmallIntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        db_table = "whatsapp_message_counts"
        constraints = [
            models.UniqueConstraint(fields=["channel", "direction", "status", "slot"], name="message_counts_key")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.direction} {self.status}: {self.n}"


class ClientCount(models.Model):
    """Running total of clients with a WhatsApp id or lid, kept by triggers like MessageCount."""

    slot = models.SmallIntegerField(unique=True)
    n = models.BigIntegerField(default=0)

    class Meta:
        db_table = "whatsapp_client_counts"

    def __str__(self) -> str:
        return f"clients with WhatsApp: {self.n}"


class MediaFile(models.Model):
    """Our own copy of the file a message carries, and where its download stands.

    Its state is its own, apart from the message's dedup: a redelivered or replayed notification
    is a duplicate message, never a reason to skip or repeat the download (Chatwoot lost files for
    good when a failed download's redeliveries were all treated as duplicates, chatwoot#15754).
    Green API's links do not last, so the worker keeps the file in Django's storage.
    """

    class State(models.TextChoices):
        WAITING = "waiting"
        STORED = "stored"
        FAILED = "failed"
        GONE = "gone", "gone from WhatsApp"

    # Random, so the file's address (/whatsapp/media/<id>) cannot be guessed from another's.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No database constraint, as for Message.notification: the guide's raw `DELETE FROM messages`
    # and clear_whatsapp_messages must keep working with files in the table.
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="media", db_constraint=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    reason = models.TextField(blank=True, help_text="Why it is not stored (yet).")
    source_url = models.URLField("link", max_length=2048, blank=True, help_text="Where the file was fetched from.")
    file = models.FileField(max_length=512, blank=True)
    file_name = models.CharField(max_length=512, blank=True, help_text="The name the sender gave it.")
    content_type = models.CharField(max_length=128, blank=True, help_text="Read from the file's bytes.")
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    thumbnail = models.TextField(blank=True, help_text="Green API's jpegThumbnail (base64 JPEG), shown while it waits.")
    created_at = models.DateTimeField(default=timezone.now)
    stored_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "whatsapp_media"
        verbose_name = "media file"
        indexes = [
            # Most files end stored; the doctor and staff look up the others.
            models.Index(fields=["state"], name="media_unsettled", condition=~Q(state="stored")),
        ]

    def __str__(self) -> str:
        return f"{self.file_name or self.message_id} ({self.state})"

    @property
    def kind(self) -> str:
        """ "image", "audio", "video", or another type's first word: how the conversation shows it."""
        return self.content_type.split("/")[0]

    @property
    def inline(self) -> bool:
        """Shown in the page (pictures, players) rather than downloaded as an attachment."""
        return self.kind in ("image", "audio", "video")


class MessageExport(models.Model):
    """A CSV of many messages, written by a job into Django's storage for the staff member who asked.

    A selection past EXPORT_STREAM_MAX_ROWS is not streamed to the browser (3,000,000 rows outlive
    gunicorn's timeout): the admin's export action keeps what was selected here, the job
    (whatsapp/exports.py) writes the file, and staff download it from *Your exports* when it is ready.
    """

    class State(models.TextChoices):
        WAITING = "waiting"
        RUNNING = "running", "being written"
        READY = "ready"
        FAILED = "failed"

    # Random: the download's address cannot be guessed from another's (it is checked anyway).
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Kept when its user is deleted, so its file is still cleaned up in time (superusers may fetch it).
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    # What was selected: the message list's query, pickled by the admin's action (Django supports
    # pickling QuerySet.query to run it again later). Written by this application only.
    query = models.BinaryField()
    # The list's filters and search as its address had them (direction__exact=inbound&q=…), to say what it holds.
    selection = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    reason = models.TextField(blank=True, help_text="Why it failed.")
    file = models.FileField(max_length=512, blank=True)
    rows = models.BigIntegerField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "whatsapp_message_exports"
        verbose_name = "message export"
        indexes = [models.Index(fields=["requested_by", "-requested_at"], name="message_exports_by_user")]

    def __str__(self) -> str:
        return f"messages export {self.requested_at:%Y-%m-%d %H:%M} ({self.state})"

    @property
    def selection_shown(self) -> str:
        """What the list was filtered and searched by, as staff read it (direction__exact=inbound, q=доставка)."""
        return ", ".join(f"{key}={value}" for key, value in parse_qsl(self.selection))

    @property
    def file_name(self) -> str:
        """The name the download is saved as."""
        return f"messages-{timezone.localtime(self.requested_at):%Y-%m-%d-%H%M}.csv"
