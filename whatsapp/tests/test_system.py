"""The Procfile's gunicorn, real HTTP, PostgreSQL: load without loss, and faults with nothing lost.

Green API's contract (REFERENCE §9): a notification that does not get a 200 is delivered again.
These tests play Green API that way, so "nothing lost" means: after redelivering whatever got no
200, the database holds exactly the notifications and messages that were sent, each once.
"""

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from conftest import payload, postgres_only
from crm.testing.servers import CuttableProxy, Gunicorn, database_url
from crm.testing.traffic import assert_stored_exactly_once, deliver, redeliver_until_accepted
from whatsapp.models import Notification

pytestmark = [postgres_only, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def incoming(i: int, number: int) -> dict:
    body = payload("incomingMessageReceived.textMessage.json")
    body["idMessage"] = f"SYS-IN-{i:012d}"
    body["senderData"]["chatId"] = body["senderData"]["sender"] = f"{number}@c.us"
    body["messageData"]["textMessageData"]["textMessage"] = f"сообщение {i} 🚚"
    return body


def outgoing(i: int, number: int) -> dict:
    body = payload("outgoingAPIMessageReceived.textMessage.json")
    body["idMessage"] = f"SYS-OUT-{i:011d}"
    body["senderData"]["chatId"] = f"{number}@c.us"
    return body


def status(out: dict, value: str) -> dict:
    return {
        "typeWebhook": "outgoingMessageStatus",
        "chatId": out["senderData"]["chatId"],
        "instanceData": out["instanceData"],
        "timestamp": 1763902500,
        "idMessage": out["idMessage"],
        "status": value,
        "sendByApi": True,
    }


def mixed_traffic(n: int, numbers: int, seed: int = 7) -> list[dict]:
    """Incoming text (most), outgoing, statuses (also before their message), redeliveries."""
    rng = random.Random(seed)
    bodies: list[dict] = []
    outs: list[dict] = []
    for i in range(n):
        number = 79100000000 + rng.randrange(numbers)
        roll = rng.random()
        if roll < 0.70:
            bodies.append(incoming(i, number))
        elif roll < 0.82:
            out = outgoing(i, number)
            outs.append(out)
            bodies.append(out)
        elif roll < 0.92 and outs:
            bodies.append(status(rng.choice(outs), rng.choice(["sent", "delivered", "read"])))
        elif bodies:
            bodies.append(rng.choice(bodies))  # Green API's own duplicates
    return bodies


@pytest.fixture
def server():
    running = Gunicorn(database_url(connection.settings_dict)).start()
    yield running
    running.stop()


@pytest.fixture
def proxied_server():
    proxy = CuttableProxy(int(connection.settings_dict.get("PORT") or 5432))
    running = Gunicorn(database_url(connection.settings_dict, port=proxy.port), DB_CONNECT_TIMEOUT="2").start()
    yield running, proxy
    running.stop()
    proxy.cut()


def test_thousands_of_mixed_notifications_at_once_are_each_stored_once(server) -> None:
    bodies = mixed_traffic(2500, numbers=60)
    answers = deliver(server.url, bodies, workers=32)
    # A request that waited too long for a database connection or a lock answers 503, and Green API
    # delivers it again, as here: nothing else, and nothing lost or stored twice.
    assert set(answers.values()) <= {200, 503}, set(answers.values())
    print(f"503 answers under load: {list(answers.values()).count(503)} of {len(bodies)}")
    redeliver_until_accepted(server.url, bodies, answers)
    assert_stored_exactly_once(bodies)
    # Every status reached its message, whichever arrived first.
    assert not Notification.objects.filter(outcome="waiting").exists()


def test_database_cut_while_notifications_arrive_loses_nothing(proxied_server) -> None:
    server, proxy = proxied_server
    bodies = mixed_traffic(900, numbers=40, seed=11)
    answers: dict[int, int | None] = {}

    def cut_for_a_while() -> None:
        time.sleep(0.8)
        proxy.cut()
        time.sleep(1.5)
        proxy.restore()

    cutter = threading.Thread(target=cut_for_a_while)
    cutter.start()
    answers = deliver(server.url, bodies, workers=16)
    cutter.join()
    codes = set(answers.values())
    assert 503 in codes, "the cut must have hit some requests"
    assert codes <= {200, 503}, f"only 200 or 503 while the database is away, got {codes}"
    # The server recovers by itself: no restart between the cut and this.
    assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
    redeliver_until_accepted(server.url, bodies, answers)
    assert_stored_exactly_once(bodies)


def test_a_worker_killed_mid_request_leaves_nothing_half_written(server) -> None:
    bodies = mixed_traffic(900, numbers=40, seed=23)
    answers: dict[int, int | None] = {}

    delivered = threading.Event()

    def kill_workers() -> None:
        # Three times, each once more traffic has been stored since the last: every worker at once,
        # so requests in flight break however many workers the machine runs and however fast they
        # answer; gunicorn's arbiter starts new ones, and the traffic goes on.
        for stored in (50, 250, 450):
            while Notification.objects.count() < stored and not delivered.wait(0.01):
                pass
            if delivered.is_set():
                break
            killed = server.worker_pids()
            for pid in killed:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            if not replaced(killed):
                # The traffic would hang on a server that answers nothing: end it, and say why.
                unreplaced.append(killed)
                server.stop()
                break
        connection.close()  # this thread's own

    def replaced(killed: list[int]) -> bool:
        """The arbiter reaped the killed workers and started as many new ones, within 20 s."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = server.worker_pids()
            if len(now) == len(killed) and not set(now) & set(killed):
                return True
            time.sleep(0.05)
        return False

    unreplaced: list[list[int]] = []

    killer = threading.Thread(target=kill_workers)
    killer.start()
    try:
        answers = deliver(server.url, bodies, workers=16)
    finally:
        delivered.set()
        killer.join()
    assert not unreplaced, f"killed workers {unreplaced[0]} were never replaced"
    assert None in answers.values(), "the kills must have broken some requests"
    redeliver_until_accepted(server.url, bodies, answers)
    assert_stored_exactly_once(bodies)


def test_graceful_reloads_while_notifications_arrive_lose_nothing(server) -> None:
    bodies = mixed_traffic(900, numbers=40, seed=31)
    delivered = threading.Event()

    def reload_repeatedly() -> None:
        # SIGHUP: what a deploy without a restart sends; new workers start, old ones finish first.
        while not delivered.wait(0.7):
            os.kill(server.process.pid, signal.SIGHUP)

    reloader = threading.Thread(target=reload_repeatedly)
    reloader.start()
    try:
        answers = deliver(server.url, bodies, workers=16)
    finally:
        delivered.set()
        reloader.join()
    booted = Path(server.log.name).read_text().count("Booting worker")
    assert booted > 3, "the reloads must have replaced the workers"
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    redeliver_until_accepted(server.url, bodies, answers)
    assert_stored_exactly_once(bodies)


def test_a_deploy_stopping_the_server_while_notifications_arrive_loses_nothing() -> None:
    url = database_url(connection.settings_dict)
    old = Gunicorn(url).start()
    bodies = mixed_traffic(900, numbers=40, seed=37)

    def stop_soon() -> None:
        # Once a sixth of the traffic is stored, whatever the machine's speed: the stop then comes
        # while the rest is still arriving.
        deadline = time.monotonic() + 60
        while Notification.objects.count() < len(bodies) // 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        connection.close()  # this thread's own
        os.kill(old.process.pid, signal.SIGTERM)  # what a platform sends the old release

    stopper = threading.Thread(target=stop_soon)
    stopper.start()
    try:
        answers = deliver(old.url, bodies, workers=16)
        stopper.join()
        assert old.process.wait(timeout=30) == 0, "a graceful stop"
    finally:
        old.stop()
    assert 200 in answers.values(), "the server answered before it stopped"
    assert None in answers.values(), "the stop came while notifications arrived"
    new = Gunicorn(url).start()
    try:
        redeliver_until_accepted(new.url, bodies, answers)
    finally:
        new.stop()
    assert_stored_exactly_once(bodies)
