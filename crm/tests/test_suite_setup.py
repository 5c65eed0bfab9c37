"""The test suite's own set-up: what it skips, and why."""

from django.db import connection

from whatsapp.tests import test_fast_path


def test_the_fast_path_tests_skip_on_sqlite_for_their_own_reason() -> None:
    (mark,) = [mark for mark in test_fast_path.pytestmark if mark.name == "skipif"]
    assert mark.args == (connection.vendor != "postgresql",)
    assert "the fast path is PostgreSQL's SQL" in mark.kwargs["reason"]
    assert "race" not in mark.kwargs["reason"]
