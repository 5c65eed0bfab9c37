from django.db import migrations

# The client list at 100,000 clients, by index (PostgreSQL; SQLite reads its few rows):
# - a search's name and phone as typed, `UPPER(…) LIKE '%…%'` (Django's icontains), by trigrams, so
#   that every branch of the search's OR has an index and PostgreSQL ORs their bitmaps instead of
#   reading every client in the list's order (clients/search.py);
# - each order the list offers, as the admin writes it: the column clicked, then the default order
#   (latest activity first, the newest client first) and the primary key. An index in exactly that
#   order hands the first page over without sorting, and a deep page's ids from the index alone
#   (crm/paginator.py). The default order's index replaces whatsapp 0011's clients_last_message
#   (its first column only); the name's and the message count's are new.
# - every index on clients takes an entry on each message (the activity trigger's update of the
#   client is never a HOT update while last_message_at is indexed), so the two pattern indexes
#   Django adds for the unique whatsapp_id and whatsapp_lid (for LIKE 'prefix%', which nothing
#   asks: numbers are found in client_numbers) go: a message's update of its client writes 8
#   index entries (6 before, 10 with the new ones alone).
ORDER = "last_message_at DESC NULLS LAST, created_at DESC, id DESC"
# Django's names for them (the schema editor drops them by these names, IF EXISTS, when the fields change).
PATTERN_INDEXES = {
    "clients_whatsapp_id_a3c73d47_like": "whatsapp_id varchar_pattern_ops",
    "clients_whatsapp_lid_11975eca_like": "whatsapp_lid varchar_pattern_ops",
}
FORWARD = [
    "CREATE INDEX clients_name_trgm ON clients USING gin (upper(name) gin_trgm_ops)",
    "CREATE INDEX clients_phone_trgm ON clients USING gin (upper(phone) gin_trgm_ops)",
    f"CREATE INDEX clients_activity ON clients ({ORDER})",
    "DROP INDEX IF EXISTS clients_last_message",
    f"CREATE INDEX clients_by_name ON clients (name, {ORDER})",
    f"CREATE INDEX clients_by_message_count ON clients (message_count DESC, {ORDER})",
    *(f"DROP INDEX IF EXISTS {name}" for name in PATTERN_INDEXES),
]
BACKWARD = [
    *(f"CREATE INDEX IF NOT EXISTS {name} ON clients ({columns})" for name, columns in PATTERN_INDEXES.items()),
    "DROP INDEX IF EXISTS clients_by_message_count",
    "DROP INDEX IF EXISTS clients_by_name",
    "CREATE INDEX IF NOT EXISTS clients_last_message ON clients (last_message_at DESC NULLS LAST)",
    "DROP INDEX IF EXISTS clients_activity",
    "DROP INDEX IF EXISTS clients_phone_trgm",
    "DROP INDEX IF EXISTS clients_name_trgm",
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0006_group_chats"),
        # 0011's clients_last_message is replaced here, and 0012 creates pg_trgm (and drops it
        # when unapplied: after this migration, whose indexes use it).
        ("whatsapp", "0012_message_text_search"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
