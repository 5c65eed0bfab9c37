"""Property-based: whatever arrives, the webhook never answers 500, keeps every JSON object, refuses
every body that is not UTF-8 JSON, and prints only whole lines of its own, with no traceback."""

import copy
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PAYLOADS
from whatsapp.fields import loads
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

# What ends or rewrites a log line: C0 and C1 controls, DEL, Unicode's line separators.
controls = st.characters(codec=None, categories=["Cc", "Zl", "Zp"])
nasty_text = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["\u0000", "a\u0000b", "\ud800", "x\udfffy", "{{SWE001}}", "", " ", "@c.us", ":3@lid", "NaN"]),
    st.builds(lambda n: "я" * n, st.integers(0, 20_000)),
    # Digits int() refuses ("²"), or takes but are absurd: 5,000 of them.
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=8),
    st.builds(lambda n: "9" * n, st.integers(4_000, 6_000)),
    # A line of our log, forged after a control character, with a phone number in it.
    st.builds(lambda c: f"x{c}❌ Error handling webhook: 79991234567", controls),
)
# A number too long for json.dumps (and json.loads) to make: a marker, written out in _post.
HUGE = re.compile(r'"\\u0000huge(-?\d+)\\u0000"')
huge_numbers = st.builds(
    lambda n, sign: f"\x00huge{sign}{'9' * n}\x00", st.integers(4_301, 6_000), st.sampled_from(["", "-"])
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
    huge_numbers,
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
    # Everything escaped: lone surrogates can only travel as \\udXXX escapes.
    raw = HUGE.sub(r"\1", json.dumps(body, ensure_ascii=True, allow_nan=True))
    return raw, post_webhook(raw)


def _check_kept(answer, raw: str) -> None:
    assert answer.status_code == 200, answer.content
    kept = Notification.objects.get(pk=answer.json()["notificationId"])
    if kept.deliveries > 1:
        # The same notification (instance, type, idMessage, status) was kept already, as first sent.
        assert kept.dedupe_key == dedupe_key(unwrap(loads(raw)), raw.encode())
        return
    assert not answer.json()["duplicate"]
    assert kept.body == raw


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


@FUZZ
@given(body=mutated_payloads())
def test_in_production_any_notification_prints_only_whole_lines_of_ours_and_no_traceback(
    post_webhook, settings, capsys, body: dict
) -> None:
    settings.LOG_MODE = "production"
    capsys.readouterr()
    raw, answer = _post(post_webhook, body)
    _check_kept(answer, raw)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    for line in out.out.splitlines():
        assert line.startswith(
            ("📨 Received webhook from Green API: ", "⚠️ Warning: ", "❌ Error handling webhook: ")
        ), line
        assert "79991234567" not in line, "numbers are masked, wherever they are in a line"


# Bytes that are not UTF-8 inside a body that otherwise is: as a lone surrogate, a stray byte, an overlong form…
NOT_UTF8 = [
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xc0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xf4\x90\x80\x80",
]


@st.composite
def not_utf8_bodies(draw: st.DrawFn) -> bytes:
    raw = json.dumps(draw(st.sampled_from(BASES)), ensure_ascii=False).encode()
    if draw(st.booleans()):
        encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]))
        return raw.decode().encode(encoding)
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.sampled_from(NOT_UTF8)) + raw[at:]


@FUZZ
@given(raw=not_utf8_bodies())
def test_a_body_that_is_not_utf8_is_always_a_400_that_says_so(post_webhook, raw: bytes) -> None:
    answer = post_webhook(raw)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith("Body must be UTF-8 JSON (RFC 8259)")
    assert not Notification.objects.exists()


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
