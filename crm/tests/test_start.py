"""Starting the server as a host does: the Procfile's lines and ./scripts/serve, each a real process.

What a server refuses to start without, what it says at start, the first admin of the release line,
a tunnel's host, and the API docs page served without internet.
"""

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from conftest import greenapi_env, payload
from crm.testing.servers import ROOT, Gunicorn, free_port, procfile_command

pytestmark = pytest.mark.slow

TUNNEL = "abc-123.ngrok-free.app"
ADMIN = ("owner@example.com", "release-line-password-1")


def run_procfile(process: str, **env: str) -> subprocess.CompletedProcess:
    """One of the Procfile's lines, as a host runs it, with the system tests' environment."""
    environment = {**Gunicorn("sqlite:///unused").env, **env}
    command = procfile_command(process)
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> str:
    """A fresh SQLite database set up by the Procfile's release line, DJANGO_SUPERUSER_* given."""
    url = f"sqlite:///{tmp_path_factory.mktemp('release') / 'crm.sqlite3'}"
    email, password = ADMIN
    result = run_procfile("release", DATABASE_URL=url, DJANGO_SUPERUSER_EMAIL=email, DJANGO_SUPERUSER_PASSWORD=password)
    assert result.returncode == 0, result.stdout + result.stderr
    return url


@pytest.fixture(scope="module")
def tunnelled(released):
    """The Procfile's web process behind a tunnel: only PUBLIC_URL is set, no webhook token."""
    server = Gunicorn(released, PUBLIC_URL=f"https://{TUNNEL}", GREEN_API_WEBHOOK_TOKEN="").start()
    yield server
    server.stop()


@pytest.mark.parametrize("key", ["", "django-insecure-local-development-key-change-me"])
def test_the_web_process_refuses_to_start_without_a_secret_key_and_says_what_to_set(key) -> None:
    result = run_procfile("web", SECRET_KEY=key, PORT=str(free_port()), DATABASE_URL="sqlite:///unused")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "The server will not start" in output
    assert "Set SECRET_KEY" in output
    assert "Traceback" not in output


def test_the_release_line_creates_the_first_admin_from_the_environment(released) -> None:
    database = sqlite3.connect(released.removeprefix("sqlite:///"))
    try:
        rows = database.execute("SELECT email, is_superuser, is_staff FROM users").fetchall()
    finally:
        database.close()
    assert rows == [(ADMIN[0], 1, 1)]


def test_the_web_process_says_at_start_that_the_webhook_accepts_anyone(tunnelled) -> None:
    log = Path(tunnelled.log.name).read_text()
    assert "(crm.W001) GREEN_API_WEBHOOK_TOKEN is not set: the webhook accepts notifications from anyone." in log


def test_a_tunnel_named_by_public_url_reaches_the_webhook(tunnelled) -> None:
    answer = requests.post(
        f"{tunnelled.url}/whatsapp/webhook",
        timeout=30,
        data="{}",
        headers={"Host": TUNNEL, "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text


def test_the_admin_logs_in_through_the_tunnel_with_csrf_trusted_by_public_url(tunnelled) -> None:
    # The tunnel ends TLS: the browser's Origin is https://, the request reaching us is http.
    session = requests.Session()
    session.headers.update({"Host": TUNNEL})
    form = session.get(f"{tunnelled.url}/admin/login/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{tunnelled.url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": ADMIN[0], "password": ADMIN[1], "next": "/admin/"},
        headers={"Origin": f"https://{TUNNEL}", "Referer": f"https://{TUNNEL}/admin/login/"},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:2000]
    assert answer.headers["Location"] == "/admin/"


@pytest.mark.parametrize("path", ["/whatsapp/webhook", "/auth/login"])
def test_another_host_gets_a_json_error_naming_the_setting_to_change(tunnelled, path) -> None:
    answer = requests.post(
        f"{tunnelled.url}{path}",
        timeout=30,
        data="{}",
        headers={"Host": "other.ngrok-free.app", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["error"] == "Bad Request"
    assert "'other.ngrok-free.app'" in answer.json()["detail"]
    assert "ALLOWED_HOSTS" in answer.json()["detail"]
    assert "PUBLIC_URL=https://other.ngrok-free.app" in answer.json()["detail"]


def test_the_admin_refusing_a_host_says_what_to_set(tunnelled) -> None:
    answer = requests.get(f"{tunnelled.url}/admin/login/", timeout=30, headers={"Host": "other.ngrok-free.app"})
    assert answer.status_code == 400
    assert "ALLOWED_HOSTS" in answer.text
    assert "<script" not in requests.get(f"{tunnelled.url}/admin/", timeout=30, headers={"Host": "<script>x"}).text


def test_the_api_docs_load_everything_from_this_server(tunnelled) -> None:
    page = requests.get(f"{tunnelled.url}/api/docs/", timeout=30)
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), f"{asset} would need the internet"
        assert requests.get(f"{tunnelled.url}{asset}", timeout=30).status_code == 200, asset
    assert "cdn" not in page.text.lower()


def copy_of_the_checkout(target: Path) -> Path:
    """A new user's checkout: the files, without what a run leaves behind; the installed .venv reused."""
    left_behind = shutil.ignore_patterns(
        ".git",
        ".venv",
        ".env",
        "db.sqlite3",
        "staticfiles",
        "out",
        "__pycache__",
        ".*_cache",
        ".hypothesis",
        ".gunicorn-*",
    )
    shutil.copytree(ROOT, target, ignore=left_behind)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


def serve(checkout: Path, until: Callable[[], bool] = lambda: True, **extra: str) -> tuple[int, str]:
    """./scripts/serve with nothing set (but `extra`), until it answers and `until()`; then stopped.
    Its exit and its output."""
    port = free_port()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(checkout), "PORT": str(port), "WEB_CONCURRENCY": "1"}
    env |= extra
    process = subprocess.Popen(
        ["./scripts/serve"], cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    status, deadline = None, time.monotonic() + 300
    while status is None and time.monotonic() < deadline and process.poll() is None:
        try:
            status = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code
        except requests.RequestException:  # not up yet, or a busy machine answers late
            time.sleep(0.5)
    while not until() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    output = process.communicate(timeout=60)[0]
    return status, output


def test_serve_works_on_a_fresh_clone_with_nothing_set_and_keeps_its_key_out_of_git(tmp_path) -> None:
    checkout = copy_of_the_checkout(tmp_path / "crm")
    status, output = serve(checkout)
    assert status == 200, output[-3000:]
    assert "Generated a local SECRET_KEY in .env" in output
    assert re.search(r"Created admin admin@example.com with password \S+", output)
    key = re.search(r"^SECRET_KEY=(\S{50,})$", (checkout / ".env").read_text(), re.M).group(1)
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env is ignored by git"

    status, output = serve(checkout)
    assert status == 200, output[-3000:]
    assert "Generated" not in output
    assert re.findall(r"^SECRET_KEY=(\S+)$", (checkout / ".env").read_text(), re.M) == [key], "made once"


def test_serve_with_polling_receives_from_green_apis_queue_without_a_public_url(tmp_path, fake_greenapi) -> None:
    checkout = copy_of_the_checkout(tmp_path / "crm")
    fake_greenapi.enqueue(payload("incomingMessageReceived.textMessage.json"))
    status, output = serve(
        checkout, until=lambda: bool(fake_greenapi.deleted), GREEN_API_RECEIVE="poll", **greenapi_env(fake_greenapi)
    )
    assert status == 200, output[-3000:]
    assert fake_greenapi.deleted, output[-3000:]
    assert "Incoming message processed: A5F3B2C1D4E6F7081920AB3C4D5E6F70" in output
    assert "Received 1 notification(s): 1 processed." in output  # stopped cleanly with serve
