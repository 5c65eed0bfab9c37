"""CPU of one new message through whatsapp.webhook.answer (everything but HTTP), text and image.

`cpu_ms` is this process (Django, Python), `pg_cpu_ms` the PostgreSQL backend serving it (from
/proc/<pid>/stat: PostgreSQL on this machine; 10 ms ticks, so use a few hundred rounds).

Run from the checkout to measure, against a database of its own (it is migrated, and 200 known
clients added): `WHATSAPP_LOG_LEVEL=WARNING DATABASE_URL=postgres://…/crm_hook python
bench/hook_cost.py <label> 520` prints one JSON line. bench/RESULTS.md interleaves two checkouts.
"""

import io
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ["LOG_MODE"] = "production"
os.environ["LOG_BATCH_SECONDS"] = "1"
import django

django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from clients.models import Client  # noqa: E402
from whatsapp.webhook import answer  # noqa: E402

label, rounds = sys.argv[1], int(sys.argv[2])
call_command("migrate", verbosity=0)
numbers = [f"7903{n:07d}" for n in range(200)]
for n in numbers:
    Client.objects.get_or_create(whatsapp_id=n, defaults={"name": "Known"})


def body(kind: str, n: str) -> bytes:
    mid = uuid.uuid4().hex.upper()
    data = (
        {"typeMessage": "textMessage", "textMessageData": {"textMessage": "Здравствуйте! Сколько стоит доставка?"}}
        if kind == "text"
        else {
            "typeMessage": "imageMessage",
            "fileMessageData": {
                "downloadUrl": f"https://sw-media-1103.storage.yandexcloud.net/1103123456/{mid}.jpg",
                "caption": "",
                "fileName": f"{mid}.jpg",
                "jpegThumbnail": "/9j/4AAQSkZJRgABAQAAAQABAAD",
                "mimeType": "image/jpeg",
            },
        }
    )
    return json.dumps(
        {
            "typeWebhook": "incomingMessageReceived",
            "instanceData": {"idInstance": 1103123456, "wid": "77017654321@c.us", "typeInstance": "whatsapp"},
            "timestamp": 1763901234,
            "idMessage": mid,
            "senderData": {"chatId": f"{n}@c.us", "sender": f"{n}@c.us", "senderName": "Анна"},
            "messageData": data,
        },
        ensure_ascii=False,
    ).encode()


def backend_cpu() -> float:
    """Seconds of CPU the database backend of this process's connection has used."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(raw: bytes) -> None:
    stream = io.BytesIO(raw)
    a = answer(method="POST", content_length=str(len(raw)), authorization="", read=stream.read)
    assert a.status == 200, a.body
    assert a.body["outcome"] == "processed", a.body


result = {}
for kind in ("text", "media"):
    bodies = [body(kind, numbers[i % 200]) for i in range(rounds)]
    for raw in bodies[:20]:
        post(raw)
    pg, cpu, wall = backend_cpu(), time.process_time(), time.perf_counter()
    for raw in bodies[20:]:
        post(raw)
    n = rounds - 20
    result[kind] = {
        "cpu_ms": round((time.process_time() - cpu) / n * 1000, 3),
        "pg_cpu_ms": round((backend_cpu() - pg) / n * 1000, 3),
        "wall_ms": round((time.perf_counter() - wall) / n * 1000, 3),
    }
print(json.dumps({"label": label, **result}))
