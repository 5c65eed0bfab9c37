"""The benchmark's loss check: what wrk was told (200 + notificationId) against what the database
holds. Every acknowledged notification stored, each distinct one once, every message once."""

from collections import Counter

import load
import psycopg

MESSAGE_KINDS = {"incomingMessageReceived", "outgoingAPIMessageReceived"}


def check(db_url: str, run: load.Wrk) -> dict:
    """What wrk was told (200 + notificationId) against what the database holds."""
    with psycopg.connect(db_url) as db:
        rows = db.execute(
            "SELECT id, type_webhook, id_message, coalesce(body::jsonb ->> 'status', ''), deliveries, outcome "
            "FROM whatsapp_notifications"
        ).fetchall()
        messages = Counter(
            dict(db.execute("SELECT external_id, count(*) FROM messages GROUP BY external_id").fetchall())
        )
    by_id = {r[0]: r for r in rows}
    answers = sum(run.codes.values())
    ok_answers = run.codes.get(200, 0)
    # Made but never answered: in flight when wrk stopped (one per connection), the one request wrk 4
    # makes to check the script and never sends, or dropped with a socket error.
    unanswered = sum(run.sent.values()) - answers
    sent = set(run.idents)
    stored = Counter((r[1], r[2], r[3]) for r in rows)
    lost = [i for i in run.acks if i not in by_id]
    duplicated = [k for k, n in stored.items() if n > 1]
    phantom = [k for k in stored if k not in sent]
    unacked = [r for r in rows if r[0] not in run.acks]
    undercounted = [i for i, n in run.acks.items() if i in by_id and by_id[i][4] < n]
    deliveries = sum(r[4] for r in rows)
    outcomes = Counter(r[5] for r in rows)
    expected_messages = {r[2] for r in rows if r[1] in MESSAGE_KINDS}
    missing_messages = expected_messages - set(messages)
    extra_messages = set(messages) - expected_messages
    double_messages = [k for k, n in messages.items() if n > 1]
    stuck = [r for r in rows if r[5] == "waiting" and r[2] in messages]
    kinds = Counter(by_id[i][1] for i in run.acks if i in by_id)
    bad_answers = answers - ok_answers + sum(run.errors.values()) - run.errors.get("status", 0)
    checks = {
        "every answer was 200, no socket errors": bad_answers == 0,
        "every acknowledged notification is stored": not lost,
        "each distinct notification is stored once": not duplicated and len(sent) == len(run.idents),
        "nothing stored that was not sent": not phantom,
        "unacknowledged rows only from requests in flight": len(unacked) <= max(unanswered, 0),
        "deliveries counted: sum(deliveries) = 200 answers (+ in flight)": 0
        <= deliveries - ok_answers
        <= max(unanswered, 0)
        and not undercounted,
        "every message notification made exactly one message": not missing_messages
        and not extra_messages
        and not double_messages,
        "no notification failed": outcomes.get("failed", 0) == 0,
        "no status left waiting for a message that is stored": not stuck,
    }
    lines = [
        f"sent: {dict(run.sent)}; answers: {dict(run.codes)}; socket errors: {run.errors}",
        f"distinct notifications sent {len(sent)}, acknowledged {len(run.acks)} "
        f"({dict(kinds)}); rows {len(rows)} ({len(unacked)} from the {unanswered} requests left unanswered)",
        f"200 answers {ok_answers}, sum(deliveries) {deliveries}; outcomes {dict(outcomes)}",
        f"messages {sum(messages.values())} = distinct message notifications stored {len(expected_messages)}",
        *(f"[{'ok' if passed else 'FAILED'}] {name}" for name, passed in checks.items()),
    ]
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "lines": lines,
        "acknowledged": len(run.acks),
        "rows": len(rows),
        "answers_200": ok_answers,
        "deliveries": deliveries,
        "messages": sum(messages.values()),
        "unanswered": unanswered,
        "outcomes": dict(outcomes),
        "lost": lost[:20],
        "duplicated": [list(k) for k in duplicated[:20]],
    }


def print_check(name: str, check: dict) -> dict:
    for line in check["lines"]:
        print("  " + line)
    print(f"  loss check ({name}): {'PASS' if check['ok'] else 'FAIL'}")
    return check
