"""The migration that gives every existing client its numbers, marked with where they came from."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("clients", "0001_initial")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_existing_clients_get_their_numbers_and_only_typed_ones_count_as_typed() -> None:
    # Every app: migrating clients back unapplies the migrations that depend on it (whatsapp 0010).
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO clients (id, name, phone, whatsapp_id, whatsapp_lid, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, '2024-01-01', '2024-01-01')",
                [
                    ("a" * 32, "by the webhook", "+1234567", "1234567", None),
                    ("b" * 32, "typed", "8 (916) 123-45-67", "9161234567", None),
                    ("c" * 32, "imported", "", "79031234567", None),
                    ("d" * 32, "a lid", "", None, "120650379300963"),
                ],
            )
    finally:
        migrate(latest)
    from clients.models import ClientNumber

    rows = set(ClientNumber.objects.values_list("client__name", "kind", "value", "source"))
    assert rows == {
        ("by the webhook", "phone", "1234567", "webhook"),
        ("typed", "phone", "9161234567", "staff"),
        ("imported", "phone", "79031234567", "staff"),
        ("a lid", "lid", "120650379300963", "webhook"),
    }
