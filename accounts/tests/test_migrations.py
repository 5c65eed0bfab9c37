"""Users saved before emails had one form keep their login after the migration that gives it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User

BEFORE = [("accounts", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_users_saved_in_another_spelling_can_still_log_in_after_the_migration(client) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("accounts", "User").objects
    old.create(email="Admın@Example.com", is_active=True)
    old.create(email="kırmızı@example.com", is_active=True)
    old.create(email="kirmizi@example.com", is_active=True)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    admin = User.objects.get(email="admin@example.com")
    admin.set_password("pw")
    admin.save()
    assert client.login(username="ADMIN@example.com", password="pw")
    # Two accounts whose addresses are one: left for a person to decide.
    assert sorted(User.objects.filter(email__startswith="k").values_list("email", flat=True)) == [
        "kirmizi@example.com",
        "kırmızı@example.com",
    ]
