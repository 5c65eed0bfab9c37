from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

# Message text searched as UPPER(content) LIKE '%…%' (Django's icontains) by trigrams: any language,
# any part of a word. GIN's pending list (fastupdate, on by default) keeps a webhook's insert cheap.
FORWARD = "CREATE INDEX messages_content_trgm ON messages USING gin (upper(content) gin_trgm_ops)"
BACKWARD = "DROP INDEX IF EXISTS messages_content_trgm"


class TrigramExtensionOnPostgres(TrigramExtension):
    """Django's own asks pg_extension when migrating back on SQLite too, which has no such table."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("whatsapp", "0011_client_activity")]

    # pg_trgm is created here (a superuser's right, as CI's postgres user has; a no-op on SQLite).
    operations = [TrigramExtensionOnPostgres(), migrations.RunPython(create_index, drop_index)]
