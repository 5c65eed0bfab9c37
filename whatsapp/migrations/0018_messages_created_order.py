from django.db import migrations, models

# messages_created (created_at DESC) becomes messages_created_order: the message list's whole order
# (created_at DESC, id DESC) with channel and direction included, so a deep page's ids and the admin
# index's counts by direction are index-only scans. One index for one, so a webhook's insert writes
# no more entries than before. On PostgreSQL built CONCURRENTLY (3,000,000 rows take a while, and
# webhooks keep writing meanwhile), hence a migration outside a transaction.
OLD = models.Index(fields=["-created_at"], name="messages_created")
NEW = models.Index(fields=["-created_at", "-id"], include=["channel", "direction"], name="messages_created_order")
POSTGRESQL = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_created_order ON messages "
    "(created_at DESC, id DESC) INCLUDE (channel, direction)",
    "DROP INDEX CONCURRENTLY IF EXISTS messages_created",
]
POSTGRESQL_BACKWARD = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_created ON messages (created_at DESC)",
    "DROP INDEX CONCURRENTLY IF EXISTS messages_created_order",
]


def _replace(apps, schema_editor, *, old, new, postgresql):
    if schema_editor.connection.vendor == "postgresql":
        for statement in postgresql:
            schema_editor.execute(statement)
        return
    message = apps.get_model("whatsapp", "Message")
    schema_editor.add_index(message, new)
    schema_editor.remove_index(message, old)


def forwards(apps, schema_editor):
    _replace(apps, schema_editor, old=OLD, new=NEW, postgresql=POSTGRESQL)


def backwards(apps, schema_editor):
    _replace(apps, schema_editor, old=NEW, new=OLD, postgresql=POSTGRESQL_BACKWARD)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("whatsapp", "0017_group_chats_own_conversations")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.RemoveIndex(model_name="message", name="messages_created"),
                migrations.AddIndex(model_name="message", index=NEW),
            ],
        )
    ]
