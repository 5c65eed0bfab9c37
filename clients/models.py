import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from clients import phones


class Client(models.Model):
    """A person the business talks to. WhatsApp finds them by `whatsapp_id` (or `whatsapp_lid`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=64, blank=True, help_text="As a person writes it.")
    whatsapp_id = models.CharField(
        "WhatsApp id",
        max_length=32,
        null=True,
        blank=True,
        unique=True,
        help_text="International number, digits only (79991234567). Filled in from the phone when empty.",
    )
    # WhatsApp's hidden ids (`…@lid`) are not phone numbers: kept apart so the same person is found
    # again, and linked to the phone client once a notification reveals both.
    whatsapp_lid = models.CharField("WhatsApp LID", max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "clients"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(whatsapp_id__isnull=True) | Q(whatsapp_id__regex=r"^[0-9]+$"),
                name="clients_whatsapp_id_digits_only",
            ),
        ]

    def __str__(self) -> str:
        return self.name or phones.display(self.whatsapp_id) or self.whatsapp_lid or str(self.id)

    @property
    def phone_display(self) -> str:
        return phones.display(self.whatsapp_id) or self.phone

    def clean(self) -> None:
        """A number typed by hand in any form gets the normalised whatsapp_id the webhook looks up."""
        super().clean()
        if self.whatsapp_id:
            normalised = phones.to_whatsapp_id(self.whatsapp_id) or phones.digits_only(self.whatsapp_id)
            if not normalised:
                raise ValidationError({"whatsapp_id": "Enter a phone number."})
            self.whatsapp_id = normalised
        elif self.phone:
            self.whatsapp_id = phones.to_whatsapp_id(self.phone)
        if self.phone and not phones.digits_only(self.phone):
            raise ValidationError({"phone": "Enter a phone number."})
        self.whatsapp_id = self.whatsapp_id or None
        self.whatsapp_lid = self.whatsapp_lid or None
