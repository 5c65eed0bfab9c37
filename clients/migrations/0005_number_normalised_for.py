from django.db import migrations, models

# A value that changes is not known to be normalised any more, whoever changes it (the ORM, SQL).
POSTGRESQL = [
    """
CREATE FUNCTION client_numbers_unchecked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.normalised_for IS NOT DISTINCT FROM OLD.normalised_for THEN
        NEW.normalised_for := NULL;
    END IF;
    RETURN NEW;
END $$""",
    "CREATE TRIGGER client_numbers_unchecked BEFORE UPDATE OF value ON client_numbers FOR EACH ROW "
    "WHEN (OLD.value IS DISTINCT FROM NEW.value) EXECUTE FUNCTION client_numbers_unchecked()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS client_numbers_unchecked ON client_numbers",
    "DROP FUNCTION IF EXISTS client_numbers_unchecked()",
]
SQLITE = [
    "CREATE TRIGGER client_numbers_unchecked AFTER UPDATE OF value ON client_numbers "
    "WHEN OLD.value IS NOT NEW.value AND OLD.normalised_for IS NEW.normalised_for BEGIN "
    "UPDATE client_numbers SET normalised_for = NULL WHERE id = NEW.id; END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS client_numbers_unchecked"]


def create_trigger(apps, schema_editor):
    for statement in {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def drop_trigger(apps, schema_editor):
    for statement in {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("clients", "0004_number_ends")]

    operations = [
        migrations.AddField(
            model_name="clientnumber",
            name="normalised_for",
            field=models.CharField(blank=True, default=None, editable=False, max_length=8, null=True),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
