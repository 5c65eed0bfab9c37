from django.db import migrations

# A number found by its end (`8287`): a prefix of the reversed digits, which a pattern index serves.
FORWARD = "CREATE INDEX client_numbers_reversed ON client_numbers (reverse(value) text_pattern_ops)"
BACKWARD = "DROP INDEX IF EXISTS client_numbers_reversed"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("clients", "0003_activity")]

    operations = [migrations.RunPython(create_index, drop_index)]
