"""A WhatsApp group chat is a client of its own (its conversation): `whatsapp_group` holds its id,
and its number row is of the kind `group`, whose id may be the creator's number and a time
(79001234567-1581234048)."""

from importlib import import_module

from django.db import migrations, models

# SQLite changes a check constraint by rebuilding the table, which drops its triggers, and cannot
# rename the rebuilt table while triggers of `clients` name it: 0002's triggers on clients are
# dropped first, then they and 0005's trigger on client_numbers (migrations, so they never change)
# are made again.
NUMBERS = import_module("clients.migrations.0002_client_numbers")
UNCHECKED = import_module("clients.migrations.0005_number_normalised_for")
CLIENTS_TRIGGERS = ("client_numbers_insert", "client_numbers_update", "client_numbers_delete")


def sqlite_drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in CLIENTS_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


def sqlite_make_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    sqlite_drop_triggers(apps, schema_editor)
    for statement in [*NUMBERS.SQLITE, *UNCHECKED.SQLITE_DROP, *UNCHECKED.SQLITE]:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("clients", "0005_number_normalised_for")]

    operations = [
        migrations.AddField(
            model_name="client",
            name="whatsapp_group",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="The group's id (120363043968066561): this client is a WhatsApp group chat.",
                max_length=64,
                null=True,
                verbose_name="WhatsApp group",
            ),
        ),
        migrations.AddConstraint(
            model_name="client",
            constraint=models.UniqueConstraint(
                condition=models.Q(("whatsapp_group__isnull", False)),
                fields=("whatsapp_group",),
                name="clients_whatsapp_group",
            ),
        ),
        migrations.AlterField(
            model_name="clientnumber",
            name="kind",
            field=models.CharField(
                choices=[("phone", "phone"), ("lid", "lid"), ("group", "group chat")], default="phone", max_length=8
            ),
        ),
        migrations.RunPython(sqlite_drop_triggers, sqlite_make_triggers),
        migrations.RemoveConstraint(model_name="clientnumber", name="client_numbers_digits_only"),
        migrations.AddConstraint(
            model_name="clientnumber",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("value__regex", "^[0-9]+$"),
                    models.Q(("kind", "group"), ("value__regex", "^[0-9]+-[0-9]+$")),
                    _connector="OR",
                ),
                name="client_numbers_digits_only",
            ),
        ),
        migrations.RunPython(sqlite_make_triggers, sqlite_drop_triggers),
    ]
