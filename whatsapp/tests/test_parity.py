"""Both write paths store the same: every payload file and every lifecycle the tests know, posted once
with the one-statement fast path and once the general way, leave the same rows and get the same
answers (PostgreSQL, where the fast path exists)."""

import copy
import json
import time
import uuid
from collections.abc import Callable

import pytest
from django.db import models
from django_tasks_db.models import DBTaskResult

from clients.models import Client, ClientNumber
from conftest import PAYLOADS, needs_postgres, payload
from whatsapp.content import MEDIA_TYPES
from whatsapp.models import AutoReply, Instance, MediaFile, Message, Notification
from whatsapp.tests.test_webhook import GUIDE_BODY

pytestmark = [
    needs_postgres("the fast path is PostgreSQL's SQL; on SQLite every notification goes the general way"),
    pytest.mark.django_db,
]

INSTANCE = 1103123456
NOTIFICATIONS = sorted(p.name for p in PAYLOADS.glob("*.json") if p.name != "receiveNotification.response.json")
MESSAGES = [name for name in NOTIFICATIONS if "MessageReceived" in name]
# Set by the clock, or random: never the same twice, whichever way.
UNCOMPARED = {"id", "received_at", "processed_at", "created_at", "updated_at", "enqueued_at", "stored_at"}
UNCOMPARED |= {"quota_exceeded_at"}  # when the notification has no timestamp (quotaExceeded): its arrival

Step = str | dict | Callable[[], object]


def person(name: str) -> str:
    """Whose number a message payload is about: the chat, or a group's participant."""
    sender = payload(name)["senderData"]
    chat = sender["chatId"]
    return (sender["sender"] if chat.endswith("@g.us") else chat).split("@")[0]


def known(number: str) -> Callable[[], object]:
    return lambda: Client.objects.create(name="Known", whatsapp_id=number)


def sent(id_message: str, number: str = "5511987654321", **fields: object) -> Callable[[], object]:
    """A message we sent, stored before Green API reported it (our own send)."""

    def make() -> None:
        client, _ = Client.objects.get_or_create(whatsapp_id=number)
        Message.objects.create(
            client=client,
            direction="outbound",
            status="pending",
            external_id=id_message,
            instance_id=INSTANCE,
            **fields,
        )

    return make


def stored(name: str) -> Callable[[], object]:
    """The payload's message, stored already under another notification, without its content."""

    def make() -> None:
        body = payload(name)
        client, _ = Client.objects.get_or_create(whatsapp_id=person(name))
        Message.objects.create(client=client, direction="inbound", external_id=body["idMessage"], instance_id=INSTANCE)

    return make


def in_group(sender: str, n: int, *, outgoing: bool = False) -> dict:
    """A message of the group chat by `sender` (a phone or a lid); ours when `outgoing`."""
    body = payload("outgoingMessageReceived.textMessage.json" if outgoing else GROUP)
    body["idMessage"] = f"GROUP{n:027d}"
    body["senderData"].update(chatId="120363043968066561@g.us", chatName="Отдел продаж 🇰🇿", sender=sender)
    return body


def from_lid(name: str) -> dict:
    body = payload(name)
    body["senderData"]["chatId"] = body["senderData"]["sender"] = "120650379300963@lid"
    return body


def guide_body() -> dict:
    """The troubleshooting guide's hand-written test notification (a copy: steps may change it)."""
    return copy.deepcopy(GUIDE_BODY)


def messages_deleted() -> None:
    Message.objects.all().delete()


def closed_now() -> None:
    """Business hours with the automatic reply on and no opening hours: closed whenever the test runs."""
    from whatsapp.hours import hours_forget

    Instance.objects.create(id_instance=INSTANCE, auto_reply_enabled=True, auto_reply_text="Закрыто, {client_name}")
    hours_forget()


def written_now(name: str, n: int) -> dict:
    """A message written just now (the automatic reply answers no message that arrives late)."""
    body = payload(name)
    body["idMessage"] = f"NOW{n:029d}"
    body["timestamp"] = int(time.time())
    return body


TEXT = "incomingMessageReceived.textMessage.json"
GROUP = "incomingMessageReceived.textMessage.group.json"
API = "outgoingAPIMessageReceived.textMessage.json"
STATUS = "outgoingMessageStatus.{}.json".format
SEQUENCES: dict[str, list[Step]] = {
    **{f"{name}, new": [name] for name in NOTIFICATIONS},
    **{f"{name}, delivered again": [name, name] for name in NOTIFICATIONS},
    **{f"{name}, from a known client": [known(person(name)), name, name] for name in MESSAGES},
    **{f"{name}, already stored": [stored(name), name] for name in MESSAGES if "outgoing" not in name},
    "statuses after their message": [API, STATUS("sent"), STATUS("delivered"), STATUS("read"), STATUS("read")],
    "statuses before their message": [STATUS("delivered"), STATUS("read"), API, STATUS("sent")],
    "statuses of a message we sent, and its report": [sent("BAE5F4886A9C1E21"), STATUS("delivered"), API],
    "our own send, reported": [sent("BAE5F4886A9C1E21", content="Olá João!"), API, API],
    "a status not ahead": [API, STATUS("read"), STATUS("delivered")],
    "a status for no message we know": [STATUS("noAccount")],
    "an edit of a stored message": [
        "incomingMessageReceived.quotedMessage.json",
        "incomingMessageReceived.editedMessage.json",
    ],
    "an edit of a message we never had": ["incomingMessageReceived.editedMessage.json"],
    "a deletion": [TEXT, "incomingMessageReceived.deletedMessage.json", TEXT],
    "a reaction to our message": [API, "incomingMessageReceived.reactionMessage.json"],
    "a reply to our message": [API, "incomingMessageReceived.textMessage.withQuote.json"],
    "a number staff wrote without its country code": [lambda: Client.objects.create(whatsapp_id="9031234567"), TEXT],
    "a lid": [from_lid(TEXT), from_lid(TEXT)],
    "a group, then its participant alone": [GROUP, TEXT],
    "a group's participant alone, then in the group": [TEXT, in_group("79031234567@c.us", 1)],
    "two participants, one by lid, and our own message in one group": [
        in_group("77079876543@c.us", 1),
        in_group("120650379300963@lid", 2),
        in_group("77017654321@c.us", 3, outgoing=True),
        in_group("77079876543@c.us", 1),
    ],
    "the guide's test, sent twice": [guide_body(), guide_body()],
    "the guide's clean-up, then its test again": [guide_body(), messages_deleted, guide_body()],
    "business hours, closed: two messages, one automatic reply": [
        closed_now,
        written_now(TEXT, 1),
        written_now(TEXT, 2),
        written_now(TEXT, 2),
        written_now("incomingMessageReceived.imageMessage.json", 3),
    ],
    "a media message, its redelivery, after the clean-up": [
        "incomingMessageReceived.imageMessage.json",
        "incomingMessageReceived.imageMessage.json",
        messages_deleted,
        "incomingMessageReceived.imageMessage.json",
    ],
}


def run(post_webhook, steps: list[Step]) -> list[dict]:
    answers = []
    for step in steps:
        if callable(step):
            step()
            continue
        answer = post_webhook(payload(step) if isinstance(step, str) else copy.deepcopy(step))
        assert answer.status_code == 200
        answers.append(answer.json())
    return answers


def labels() -> dict[object, str]:
    """Each stored row's id as what identifies it whichever way it was stored."""
    found: dict[object, str] = {}
    for client in Client.objects.all():
        found[client.pk] = f"client {client.whatsapp_id} {client.whatsapp_lid} {client.whatsapp_group} {client.name}"
    for notification in Notification.objects.all():
        found[notification.pk] = f"notification {notification.dedupe_key}"
    for message in Message.objects.all():
        found[message.pk] = f"message {message.instance_id}:{message.external_id}"
    for media in MediaFile.objects.all():
        found[media.pk] = f"media of {found[media.message_id]}"
    for reply in AutoReply.objects.all():
        found[reply.pk] = f"automatic reply {reply.chat_id} {reply.day}"
    return found


def rows(model: type[models.Model], names: dict[object, str]) -> list[str]:
    """Every row of `model` as JSON, ids as their labels, what differs by nature left out."""

    def value(field: models.Field, row: models.Model) -> object:
        raw = getattr(row, field.attname)
        if field.is_relation or isinstance(raw, uuid.UUID):
            return names.get(raw, raw)
        return raw

    result = []
    for row in model.objects.all():
        data = {f.name: value(f, row) for f in model._meta.concrete_fields if f.name not in UNCOMPARED}
        if model is DBTaskResult and "media_id" in data["args_kwargs"]["kwargs"]:
            media_id = uuid.UUID(data["args_kwargs"]["kwargs"]["media_id"])
            data["args_kwargs"]["kwargs"]["media_id"] = names.get(media_id, "a file deleted since")
        if model is DBTaskResult and "auto_reply_id" in data["args_kwargs"]["kwargs"]:
            reply_id = data["args_kwargs"]["kwargs"]["auto_reply_id"]
            data["args_kwargs"]["kwargs"]["auto_reply_id"] = names.get(reply_id, "an automatic reply deleted since")
        result.append(named(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False), names))
    return sorted(result)


def named(text: str, names: dict[object, str]) -> str:
    """Ids inside text ("already stored as message <uuid>") as their labels too."""
    for key, label in names.items():
        if isinstance(key, uuid.UUID) and str(key) in text:
            text = text.replace(str(key), label)
    return text


def state(answers: list[dict]) -> dict:
    names = labels()
    for answer in answers:
        answer["notificationId"] = names[answer["notificationId"]]
        answer["detail"] = named(answer["detail"], names)
    tables = (Client, ClientNumber, Notification, Message, MediaFile, DBTaskResult, Instance, AutoReply)
    return {"answers": answers, **{model.__name__: rows(model, names) for model in tables}}


def wipe() -> None:
    for model in (DBTaskResult, AutoReply, MediaFile, Message, Notification, ClientNumber, Client, Instance):
        model.objects.all().delete()


def files_kept_once() -> None:
    """One MediaFile and one job per message with a file, whatever came twice; none for the rest.
    (A job whose file was deleted with its message stays, and finds nothing to do.)"""
    with_files = Message.objects.filter(type_message__in=MEDIA_TYPES)
    assert MediaFile.objects.count() == with_files.count() == MediaFile.objects.filter(message__in=with_files).count()
    jobs = [job.args_kwargs["kwargs"].get("media_id") for job in DBTaskResult.objects.all()]
    media = {str(pk) for pk in MediaFile.objects.values_list("pk", flat=True)}
    assert sorted(job for job in jobs if job in media) == sorted(media)


@pytest.mark.parametrize("steps", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_both_write_paths_store_the_same_rows_and_answer_the_same(post_webhook, settings, steps) -> None:
    results = []
    for fast in (False, True):
        settings.WEBHOOK_FAST_PATH = fast
        answers = run(post_webhook, steps)
        files_kept_once()
        results.append(state(answers))
        wipe()
    general, fast = results
    assert fast == general


def test_the_parity_test_compares_automatic_replies(post_webhook, settings) -> None:
    steps = SEQUENCES["business hours, closed: two messages, one automatic reply"]
    run(post_webhook, steps)
    compared = state([])
    assert len(compared["AutoReply"]) == 1
    assert len([job for job in compared["DBTaskResult"] if "auto_reply_id" in job]) == 1


def test_the_parity_test_sees_a_difference(post_webhook, settings) -> None:
    # The comparison is not blind: the same steps, one row changed, do not compare equal.
    answers = run(post_webhook, [TEXT])
    before = state(answers)
    Message.objects.update(content="changed")
    assert state([]) | {"answers": before["answers"]} != before
