"""./check-whatsapp-stats.sh against a real server (the guide's section 2)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import payload

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).resolve().parents[2] / "check-whatsapp-stats.sh"


def run(*args: str, api_url: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "API_URL": api_url}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [shutil.which("bash"), str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=30
    )


def token(live_server) -> str:
    import requests

    from accounts.models import User

    User.objects.create_superuser(email="ops@example.com", password="pw-for-the-script")
    answer = requests.post(
        f"{live_server.url}/auth/login", json={"email": "ops@example.com", "password": "pw-for-the-script"}, timeout=10
    )
    return answer.json()["accessToken"]


def test_script_prints_the_stats(live_server) -> None:
    import requests

    requests.post(
        f"{live_server.url}/whatsapp/webhook", json=payload("incomingMessageReceived.textMessage.json"), timeout=10
    )
    result = run(token(live_server), api_url=live_server.url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totalMessages"] == 1


def test_script_works_without_jq(live_server, tmp_path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("curl", "mktemp", "rm", "cat", "bash"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = run(token(live_server), api_url=live_server.url, path=str(bin_dir))
    assert result.returncode == 0, (
        result.returncode,
        result.stdout,
        result.stderr,
        sorted(p.name for p in bin_dir.iterdir()),
    )
    assert json.loads(result.stdout)["clientsWithWhatsApp"] == 0


def test_script_without_a_token_explains_and_fails(live_server) -> None:
    result = run(api_url=live_server.url)
    assert result.returncode != 0
    assert "Usage:" in result.stderr


def test_script_with_a_bad_token_says_so_and_fails(live_server) -> None:
    result = run("not-a-token", api_url=live_server.url)
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr


def test_script_with_no_server_says_so_and_fails() -> None:
    result = run("x", api_url="http://127.0.0.1:9")
    assert result.returncode != 0
    assert "Could not reach" in result.stderr
