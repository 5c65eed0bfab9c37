from django.db import migrations

# The client list at 100,000 clients, by index (PostgreSQL; SQLite reads its few rows):
# - a search's name and phone as typed, `UPPER(…) LIKE '%…%'` (Django's icontains), by trigrams, so
#   that every branch of the search's OR has an index and PostgreSQL ORs their bitmaps instead of
#   reading every client in the list's order (clients/search.py);
# - each order the list offers, as the admin writes it: the column clicked, then the default order
#   (latest activity first, the newest client first) and the primary key. An index in exactly that
#   order hands the first page over without sorting, and a deep page's ids from the index alone
#   (crm/paginator.py). The default order's index replaces whatsapp 0011's clients_last_message
#   (its first column only), so a webhook's update of the client writes no more index entries
#   than before for it; the name's and the message count's are new.
# pg_trgm may exist already (whatsapp's 0012 creates it too); it is never dropped here, as other
# indexes use it.
ORDER = "last_message_at DESC NULLS LAST, created_at DESC, id DESC"
FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX clients_name_trgm ON clients USING gin (upper(name) gin_trgm_ops)",
    "CREATE INDEX clients_phone_trgm ON clients USING gin (upper(phone) gin_trgm_ops)",
    f"CREATE INDEX clients_activity ON clients ({ORDER})",
    "DROP INDEX IF EXISTS clients_last_message",
    f"CREATE INDEX clients_by_name ON clients (name, {ORDER})",
    f"CREATE INDEX clients_by_message_count ON clients (message_count DESC, {ORDER})",
]
BACKWARD = [
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
        ("clients", "0005_number_normalised_for"),
        # Its clients_last_message is replaced here.
        ("whatsapp", "0011_client_activity"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
