"""The Procfile's web process against slow clients (issue #13), on loopback, bounded in count and time.

No timing is asserted tightly: the machine is shared. The bounds are generous ("answered within a few
seconds"), and the figures are printed (`pytest -s`) for whoever wants them.
"""

import json
import socket
import time

import pytest
from django.db import connection

from conftest import postgres_only
from crm.testing import slowloris
from crm.testing.servers import Gunicorn, database_url
from whatsapp.models import Message, Notification

pytestmark = [postgres_only, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN = "slow-clients-test-token"
HEADER_TIMEOUT, BODY_TIMEOUT = 2, 3


@pytest.fixture
def server():
    running = Gunicorn(
        database_url(connection.settings_dict),
        GREEN_API_WEBHOOK_TOKEN=TOKEN,
        GUNICORN_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        GUNICORN_BODY_TIMEOUT=str(BODY_TIMEOUT),
    ).start()
    yield running
    running.stop()


def _exchange(port: int, data: bytes, wait: float = 30) -> tuple[bytes, float]:
    """Send `data`, then read until the server closes; what it answered and after how long."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer, time.monotonic() - started


def test_webhook_healthz_and_admin_answer_while_500_slow_connections_trickle(server) -> None:
    figures = slowloris.measure(port=server.port, token=TOKEN, count=500, seconds=20, baseline_seconds=3)
    print("\n" + json.dumps(figures, indent=2))
    for name in ("webhook", "healthz", "admin"):
        slow = figures["slow"][name]
        assert slow["failures"] == 0, f"{name}: every request answered within 10 s"
        assert slow["requests"] >= 3, f"{name}: probed while the slow connections were open"
        assert slow["median_ms"] < 3000, f"{name}: answered within a few seconds, not after the slow ones"
    assert figures["slow"]["webhook"]["codes"] == [200]
    assert figures["slow"]["healthz"]["codes"] == [200]
    assert figures["slow"]["admin"]["codes"] == [200]
    # Slow connections are closed after a bounded time, and reopened as an attacker would.
    trickle = figures["trickle"]
    assert trickle["closed_by_server"] > 0
    assert trickle["lifetime_s_max"] < HEADER_TIMEOUT + BODY_TIMEOUT + 10
    # Every probe the webhook acknowledged is stored once; none of the slow bodies is.
    assert Notification.objects.filter(id_message__startswith="SLOW-").count() == figures["webhooks_sent"]
    assert Message.objects.count() == figures["webhooks_sent"]


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(server) -> None:
    answer, seconds = _exchange(server.port, b"")
    assert answer == b""
    assert seconds < HEADER_TIMEOUT + 10


def test_headers_that_never_end_are_cut_off(server) -> None:
    answer, seconds = _exchange(server.port, b"POST /whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert answer == b""
    assert seconds < HEADER_TIMEOUT + 10
    assert not Notification.objects.exists()


def test_a_body_that_does_not_arrive_in_time_gets_408_and_stores_nothing(server) -> None:
    head = f"POST /whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
    answer, seconds = _exchange(server.port, f"{head}Content-Length: 100\r\n\r\n{{".encode())
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert seconds < BODY_TIMEOUT + 10
    assert not Notification.objects.exists()


def test_a_body_larger_than_the_limit_is_refused_unread(server) -> None:
    head = f"POST /whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
    # Announced at 100 MB and never sent: the answer comes at once, not after a 100 MB read.
    answer, _ = _exchange(server.port, f"{head}Content-Length: 100000000\r\n\r\n{{".encode())
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"Body larger than" in answer
    assert not Notification.objects.exists()


def test_a_chunked_body_is_read_whole_and_stored(server) -> None:
    body = json.dumps(slowloris.notification("SLOW-CHUNKED-1")).encode()
    head = f"POST /whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
    head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    answer, _ = _exchange(server.port, head.encode() + chunks + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert Notification.objects.get().id_message == "SLOW-CHUNKED-1"
