"""bench/run at a tiny size: every stage runs and the loss check passes. Figures are not asserted."""

import shutil
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "run"
TEMPFAIL = 75  # bench/run: another benchmark holds the lock


def _postgres_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
@pytest.mark.skipif(not _postgres_reachable(), reason="needs PostgreSQL on 127.0.0.1:5432, user postgres, trust")
def test_the_benchmark_runs_every_stage_and_loses_nothing() -> None:
    result = subprocess.run([RUN, "--smoke"], capture_output=True, text=True, timeout=600)
    if result.returncode == TEMPFAIL:
        pytest.skip("another benchmark is running on this machine")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "ratio webhook/healthz:" in result.stdout
    for run in ("warm", "cold"):
        assert result.stdout.count(f"loss check ({run}): PASS") == 2, "production and development logging"
    assert "cold start:" in result.stdout
    assert "ratio 200 / 20:" in result.stdout, "stats at both sizes"
    assert "ratio clear/DELETE:" in result.stdout
