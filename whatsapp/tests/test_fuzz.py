"""Property-based: whatever JSON arrives, the webhook never answers 500 and keeps every object."""

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PAYLOADS
from whatsapp.models import Notification
from whatsapp.notifications import dedupe_key, unwrap

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

BASES = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(PAYLOADS.glob("*.json"))]

nasty_text = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["\u0000", "a\u0000b", "\ud800", "x\udfffy", "{{SWE001}}", "", " ", "@c.us", ":3@lid", "NaN"]),
    st.builds(lambda n: "я" * n, st.integers(0, 20_000)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    return found


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict:
    body = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(body)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["drop", "replace", "stringify", "nest"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "stringify":
            parent[path[-1]] = str(parent[path[-1]])
        else:
            deep: object = parent[path[-1]]
            for _ in range(draw(st.integers(1, 200))):
                deep = [deep]
            parent[path[-1]] = deep
    return body


def _post(post_webhook, body: object):
    raw = json.dumps(body, ensure_ascii=draw_ascii(body), allow_nan=True)
    return raw, post_webhook(raw.encode("utf-8", "surrogatepass") if "\\ud" not in raw else raw)


def draw_ascii(body: object) -> bool:
    return True  # escape everything: lone surrogates can only travel as \\udXXX escapes


def _check_kept(answer, raw: str) -> None:
    assert answer.status_code == 200, answer.content
    kept = Notification.objects.get(pk=answer.json()["notificationId"])
    if answer.json()["duplicate"]:
        # The same notification (instance, type, idMessage, status) was kept already.
        assert kept.dedupe_key == dedupe_key(unwrap(json.loads(raw)), raw.encode())
        return
    assert _nan_equal(json.loads(kept.body), json.loads(raw))


def _nan_equal(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_nan_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_nan_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@FUZZ
@given(body=mutated_payloads())
def test_mutated_payloads_are_kept_and_answered_200(post_webhook, body: dict) -> None:
    raw, answer = _post(post_webhook, body)
    assert answer.headers["Content-Type"] == "application/json"
    _check_kept(answer, raw)


@FUZZ
@given(body=json_values)
def test_any_json_value_gets_a_json_answer_and_never_a_500(post_webhook, body: object) -> None:
    raw, answer = _post(post_webhook, body)
    assert answer.status_code != 500
    assert answer.headers["Content-Type"] == "application/json"
    if isinstance(body, dict):
        _check_kept(answer, raw)
    else:
        assert answer.status_code == 400


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_absurdly_deep_nesting_is_a_clear_error_not_a_crash(post_webhook, depth: int) -> None:
    answer = post_webhook(b"[" * depth + b"]" * depth)
    assert answer.status_code == 400
    inside = b'{"typeWebhook": "incomingMessageReceived", "x": ' + b"[" * depth + b"]" * depth + b"}"
    assert post_webhook(inside).status_code in (200, 400)


@pytest.mark.parametrize(
    "change",
    [
        {"instanceData": {"idInstance": 10**30}},
        {"instanceData": {"idInstance": -5}},
        {"timestamp": 10**30},
        {"timestamp": -1},
        {"timestamp": "1763901234"},
        {"idMessage": "X" * 5000},
        {"typeWebhook": "incomingMessageReceived" * 20},
        {"senderData": {"chatId": "7" * 400 + "@c.us", "sender": "7" * 400 + "@c.us"}},
        {"senderData": {"chatId": "79031234567@c.us", "sender": "79031234567@c.us", "senderName": "N" * 5000}},
        {
            "messageData": {
                "typeMessage": "locationMessage",
                "locationMessageData": {"latitude": 1e308, "longitude": "x"},
            }
        },
        {"messageData": {"typeMessage": "imageMessage", "fileMessageData": {"downloadUrl": "u" * 5000}}},
        {"messageData": {"typeMessage": "T" * 500}},
    ],
)
def test_out_of_range_values_are_kept_not_crashed_on(post_webhook, change: dict) -> None:
    body = json.loads((PAYLOADS / "incomingMessageReceived.textMessage.json").read_text(encoding="utf-8"))
    body.update(change)
    raw = json.dumps(body)
    answer = post_webhook(raw)
    _check_kept(answer, raw)
