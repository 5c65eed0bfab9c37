import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0006_group_chats"),
        ("whatsapp", "0015_business_hours_notes_canned_replies"),
    ]

    operations = [
        # Nullable, no default: PostgreSQL and SQLite add it without rewriting the table.
        migrations.AddField(
            model_name="message",
            name="author",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="In a group chat: the participant who wrote it.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="authored",
                to="clients.client",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("author__isnull", False)), fields=["author", "client"], name="messages_author"
            ),
        ),
    ]
