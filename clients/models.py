import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from clients import phones

NOT_A_PHONE = (
    "%(value)s is not a phone number: write it with the country code (+7 999 123-45-67) "
    "or as it is dialled in %(region)s (8 999 123-45-67)."
)


def normalised_phone(raw: str) -> str:
    """A number typed by hand, as the international digits WhatsApp sends; refused when it is not one."""
    whatsapp_id = phones.to_whatsapp_id(raw)
    if whatsapp_id is None:
        raise ValidationError(NOT_A_PHONE, params={"value": raw, "region": settings.DEFAULT_PHONE_REGION})
    return whatsapp_id


def lid_digits(raw: str | None, *, field: str) -> str:
    """A lid as typed (`120650379300963@lid` or its digits), as the digits WhatsApp sends."""
    lid = (raw or "").strip().removesuffix("@lid")
    if lid and not (lid.isascii() and lid.isdigit()):
        raise ValidationError({field: "A lid is the digits before @lid (120650379300963)."})
    return lid


class ClientQuerySet(models.QuerySet):
    def with_activity(self) -> "ClientQuerySet":
        """Each client with its activity, in one query. An inner join, which loses nobody (every
        client has its row) and lets PostgreSQL read a list in the order of an index of
        `client_activity`: an outer join it would have to sort, all 100,000 clients."""
        return self.select_related("activity").filter(activity__isnull=False)


class Client(models.Model):
    """A person the business talks to. WhatsApp finds them by any of their `numbers`; `whatsapp_id`
    (and `whatsapp_lid`) is the main one, which the database keeps among those numbers. Their
    conversation in numbers (latest message, counts, unread) is `activity`, a ClientActivity."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=64, blank=True, help_text="As a person writes it.")
    whatsapp_id = models.CharField(
        "WhatsApp id",
        max_length=32,
        null=True,
        blank=True,
        unique=True,
        help_text="The main number, international, digits only (79991234567). Filled in from the phone when empty.",
    )
    # WhatsApp's hidden ids (`…@lid`) are not phone numbers: kept apart so the same person is found
    # again, and linked to the phone client once a notification reveals both.
    whatsapp_lid = models.CharField("WhatsApp LID", max_length=64, null=True, blank=True, unique=True)
    # A WhatsApp group chat is one conversation, so a client of its own: its messages are its, each
    # with the participant who wrote it as the message's author. Written with the group's number row
    # by clients.services (WhatsApp's, never typed); nullable, so adding it rewrites no table.
    whatsapp_group = models.CharField(
        "WhatsApp group",
        max_length=64,
        null=True,
        blank=True,
        editable=False,
        help_text="The group's id (120363043968066561): this client is a WhatsApp group chat.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        db_table = "clients"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(whatsapp_id__isnull=True) | Q(whatsapp_id__regex=r"^[0-9]+$"),
                name="clients_whatsapp_id_digits_only",
            ),
            # Partial: also the index the client list's "kind" filter reads (groups are few).
            models.UniqueConstraint(
                fields=["whatsapp_group"], condition=Q(whatsapp_group__isnull=False), name="clients_whatsapp_group"
            ),
        ]

    def __str__(self) -> str:
        return self.name or phones.display(self.whatsapp_id) or self.whatsapp_lid or self.whatsapp_group or str(self.id)

    @property
    def is_group(self) -> bool:
        return self.whatsapp_group is not None

    @property
    def phone_display(self) -> str:
        return phones.display(self.whatsapp_id) or self.phone

    def clean(self) -> None:
        """A number typed by hand in any form gets the normalised whatsapp_id the webhook looks up."""
        super().clean()
        if self.whatsapp_id:
            try:
                self.whatsapp_id = normalised_phone(self.whatsapp_id)
            except ValidationError as error:
                raise ValidationError({"whatsapp_id": error}) from None
        elif self.phone:
            self.whatsapp_id = phones.to_whatsapp_id(self.phone)
        if self.phone and not phones.digits_only(self.phone):
            raise ValidationError({"phone": "Enter a phone number."})
        self.whatsapp_id = self.whatsapp_id or None
        self.whatsapp_lid = lid_digits(self.whatsapp_lid, field="whatsapp_lid") or None


class ClientActivity(models.Model):
    """A client's conversation in numbers: the latest message, the counts, what is unread. The lists
    sort and show these instead of counting millions of messages.

    Kept by database triggers on `messages` whoever writes them (the webhook's one-statement path,
    the ORM, sends, merges, clean-ups, the guide's raw DELETE): whatsapp/migrations/0011 and 0013,
    inbox/migrations/0005, on this table since clients/migrations/0008. Every client has its row
    from the moment it is made (a trigger on `clients`). A table of its own so that a message writes
    this narrow row and its order indexes, not the client's row with its name, phone and number
    indexes (bench/RESULTS.md, "The client's activity in a table of its own")."""

    client = models.OneToOneField(
        Client, primary_key=True, on_delete=models.CASCADE, related_name="activity", editable=False
    )
    # The client's created_at, copied when it is made: the lists' tie-break, in the order's indexes.
    client_created_at = models.DateTimeField(editable=False)
    last_message_at = models.DateTimeField(
        "last message", null=True, blank=True, default=None, editable=False, help_text="WhatsApp's time."
    )
    last_message_id = models.UUIDField(null=True, blank=True, default=None, editable=False)
    last_direction = models.CharField(max_length=8, blank=True, default="", db_default="", editable=False)
    last_preview = models.CharField(max_length=100, blank=True, default="", db_default="", editable=False)
    message_count = models.IntegerField("messages", default=0, db_default=0, editable=False)
    inbound_count = models.IntegerField("messages in", default=0, db_default=0, editable=False)
    # Inbound messages that arrived (created_at) after `read_until`; never read: all of them.
    unread_count = models.IntegerField("unread", default=0, db_default=0, editable=False)
    read_until = models.DateTimeField(null=True, blank=True, default=None, editable=False)

    class Meta:
        db_table = "client_activity"
        verbose_name_plural = "client activity"

    def __str__(self) -> str:
        return f"{self.client_id}: {self.message_count} messages"


class ClientNumber(models.Model):
    """Every WhatsApp number and lid of every client: what the webhook finds a client by.

    One unique row per number makes "no number on two clients" the database's rule, whoever writes
    and however many at once. A client's main `whatsapp_id` / `whatsapp_lid` gets its row from a
    trigger on `clients` (clients/migrations/0002), so every way of writing a client keeps it.
    """

    class Kind(models.TextChoices):
        PHONE = "phone", "phone"
        LID = "lid", "lid"
        GROUP = "group", "group chat"

    class Source(models.TextChoices):
        # The guide's "contained in" rule trusts only numbers people wrote, which may lack the
        # country code; a number from a notification is WhatsApp's own, complete by definition.
        WEBHOOK = "webhook", "from a WhatsApp message"
        STAFF = "staff", "entered by staff or imported"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="numbers")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PHONE)
    value = models.CharField(
        "number", max_length=64, help_text="A phone number in any form (+7 999 123-45-67), or a lid's digits."
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.STAFF, editable=False)
    # The DEFAULT_PHONE_REGION in which this value was last found to be what WhatsApp sends (parsing
    # is the slow part of the doctor's check: each value is parsed once per region, not on every
    # run). A trigger empties it whenever the value changes (clients/migrations/0005). Nullable, so
    # SQLite adds it without rebuilding the table.
    normalised_for = models.CharField(max_length=8, null=True, blank=True, default=None, editable=False)

    class Meta:
        db_table = "client_numbers"
        verbose_name = "WhatsApp number"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="client_numbers_unique"),
            # A group's id is digits, or the creator's number and a time (79001234567-1581234048) in
            # groups made before 2020.
            models.CheckConstraint(
                condition=Q(value__regex=r"^[0-9]+$") | Q(kind="group", value__regex=r"^[0-9]+-[0-9]+$"),
                name="client_numbers_digits_only",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.PHONE:
            return phones.display(self.value)
        return f"{self.value}@g.us" if self.kind == self.Kind.GROUP else f"{self.value}@lid"

    def clean(self) -> None:
        super().clean()
        if self.kind == self.Kind.PHONE and self.value:
            try:
                self.value = normalised_phone(self.value)
            except ValidationError as error:
                raise ValidationError({"value": error}) from None
        elif self.kind == self.Kind.LID:
            self.value = lid_digits(self.value, field="value")
