"""bench/run at a tiny size: every stage runs and the loss check passes. Figures are not asserted."""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "run"
TEMPFAIL = 75  # bench/run: another benchmark holds the lock
SERVER = "postgres://postgres@127.0.0.1:5432"


def _postgres_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect(f"{SERVER}/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


@pytest.fixture
def bench_database(django_db_setup) -> Iterator[str]:
    """A database of this run's own, dropped afterwards: bench/run drops and creates the one it is given.

    Named after the test database (test_crm → test_crm_bench), so two checkouts testing against
    their own databases never share it; on SQLite, after this process.
    """
    import psycopg
    from django.db import connection

    base = connection.settings_dict["NAME"] if connection.vendor == "postgresql" else f"test_sqlite_{os.getpid()}"
    name = re.sub(r"[^a-z0-9_]", "_", base.lower())[:50] + "_bench"
    yield name
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
@pytest.mark.skipif(not _postgres_reachable(), reason="needs PostgreSQL on 127.0.0.1:5432, user postgres, trust")
def test_the_benchmark_runs_every_stage_and_loses_nothing(bench_database) -> None:
    result = subprocess.run([RUN, "--smoke", "--database", bench_database], capture_output=True, text=True, timeout=600)
    if result.returncode == TEMPFAIL:
        pytest.skip("another benchmark is running on this machine")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert f"database {bench_database}:" in result.stdout
    assert "ratio webhook/healthz:" in result.stdout
    for run in ("warm", "cold"):
        assert result.stdout.count(f"loss check ({run}): PASS") == 2, "production and development logging"
    assert "cold start:" in result.stdout
    assert "ratio 200 / 20:" in result.stdout, "stats at both sizes"
    assert "ratio clear/DELETE:" in result.stdout
    assert "every file stored once with its size" in result.stdout, "the worker's downloads"
    assert "enqueue cost:" in result.stdout
