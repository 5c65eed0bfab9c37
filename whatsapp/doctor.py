"""`manage.py whatsapp_doctor`: the troubleshooting guide's checklists, run by the product itself.

The guide's last section names three problems — the webhook does not arrive, messages are not
saved, the client is not found — and what to look at for each. Every check here answers one of
those questions with ✅ / ⚠️ / ❌ and a one-line fix. Checks that need Green API fail on their own
when it cannot be reached; the others still run.
"""

import operator
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import reduce

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Q
from django.db.models.functions import Reverse
from django.utils import timezone

from clients import phones
from clients.models import ClientNumber
from clients.services import client_numbers_unnormalised
from crm.health import database_problem
from jobs.services import jobs_summary
from whatsapp.backfill import last_backfill
from whatsapp.greenapi import GreenAPI, GreenAPIError, expected_webhook_url, instance_problems
from whatsapp.models import Message, Notification
from whatsapp.stats import iso

OK, WARN, FAIL = "ok", "warning", "failed"
ICONS = {OK: "✅", WARN: "⚠️", FAIL: "❌"}


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def check_database() -> Check:
    problem = database_problem()
    if problem is None:
        return Check("database", OK, "reachable, every migration applied")
    reason, missing = problem
    if missing:
        return Check("database", FAIL, reason + ": " + ", ".join(missing[:5]), "manage.py migrate")
    return Check("database", FAIL, reason, "start PostgreSQL or fix DATABASE_URL")


def check_webhook_token() -> Check:
    if settings.GREEN_API_WEBHOOK_TOKEN:
        return Check("webhook token", OK, "GREEN_API_WEBHOOK_TOKEN is set")
    return Check(
        "webhook token",
        WARN,
        "GREEN_API_WEBHOOK_TOKEN is not set: anyone can post to the webhook",
        "set GREEN_API_WEBHOOK_TOKEN, then manage.py greenapi_configure --webhook-url <url>",
    )


def check_green_api() -> list[Check]:
    """Reachable and authorized (getStateInstance); posting to us what we need (getSettings)."""
    try:
        api = GreenAPI.from_settings()
        state = api.get_state_instance()
    except GreenAPIError as error:
        return [
            Check("Green API", FAIL, str(error), "check GREEN_API_URL, GREEN_API_ID_INSTANCE, GREEN_API_TOKEN"),
            Check("Green API webhook settings", FAIL, "not checked: Green API could not be asked"),
        ]
    first = (
        Check("Green API", OK, f"instance {api.id_instance} is authorized")
        if state == "authorized"
        else Check(
            "Green API",
            FAIL,
            f"instance {api.id_instance} is {state or 'in an unknown state'}",
            "scan the QR code in Green API's console",
        )
    )
    try:
        instance_settings = api.get_settings()
    except GreenAPIError as error:
        return [first, Check("Green API webhook settings", FAIL, str(error))]
    url = expected_webhook_url()
    problems = [p for p in instance_problems(state="authorized", instance_settings=instance_settings, webhook_url=url)]
    actual = instance_settings.get("webhookUrl") or "(empty)"
    if not problems and settings.GREEN_API_RECEIVE == "poll":
        return [first, Check("Green API webhook settings", OK, "no webhook URL: greenapi_receive takes the queue")]
    if problems:
        second = Check(
            "Green API webhook settings",
            FAIL,
            "; ".join(p.what for p in problems),
            problems[0].fix,
            {"webhookUrl": actual, "problems": [asdict(p) for p in problems]},
        )
    elif not url:
        second = Check(
            "Green API webhook settings",
            WARN,
            f"posts to {actual}; set PUBLIC_URL so the doctor can tell whether that is us",
            "set PUBLIC_URL=https://<your-domain>",
        )
    else:
        second = Check("Green API webhook settings", OK, f"posts to {actual} with the notifications the CRM needs")
    return [first, second]


def check_last_notification(*, quiet_hours: int) -> Check:
    last = Notification.objects.order_by("-id").only("received_at", "type_webhook", "id_message").first()
    if last is None:
        return Check(
            "last notification",
            FAIL,
            "no notification has ever arrived",
            "the server must be reachable from the internet (ngrok for local development) and Green API's "
            "webhook URL must be ours: manage.py greenapi_status; or receive without a public URL: "
            "GREEN_API_RECEIVE=poll (README, troubleshooting)",
        )
    age = timezone.now() - last.received_at
    detail = f"{iso(last.received_at)} ({_ago(age)} ago), {last.type_webhook or 'unknown kind'} {last.id_message}"
    data = {"at": iso(last.received_at), "type": last.type_webhook, "idMessage": last.id_message}
    if age > timedelta(hours=quiet_hours):
        return Check(
            "last notification",
            WARN,
            detail + f": nothing for over {quiet_hours} h",
            "check the webhook URL and the instance state: manage.py greenapi_status",
            data,
        )
    return Check("last notification", OK, detail, data=data)


def check_failed_notifications() -> Check:
    failed = Notification.objects.filter(outcome=Notification.Outcome.FAILED)
    count = failed.count()
    waiting = Notification.objects.filter(outcome=Notification.Outcome.WAITING).count()
    if not count:
        detail = "none failed" + (f"; {waiting} status(es) waiting for their message" if waiting else "")
        return Check(
            "failed notifications",
            WARN if waiting else OK,
            detail,
            "manage.py replay_notifications --include-waiting" if waiting else "",
        )
    latest = failed.order_by("-id").first()
    return Check(
        "failed notifications",
        FAIL,
        f"{count} failed; latest {iso(latest.received_at)} {latest.type_webhook} {latest.id_message}: {latest.detail}",
        "fix the cause, then: manage.py replay_notifications",
        {"count": count, "waiting": waiting, "latestError": latest.detail},
    )


WEBHOOK = ClientNumber.Source.WEBHOOK


def check_client_numbers() -> Check:
    """Numbers the webhook would not find: written in another form, or a twin's (every number of
    every client, main or not). Only numbers not yet found normal are parsed, and only the rows that
    can be a twin of one are read (by value, and by their end through client_numbers_reversed): the
    check costs what the odd numbers cost, not what 100,000 clients do."""
    unnormalised = client_numbers_unnormalised()
    numbers = ClientNumber.objects.filter(kind=ClientNumber.Kind.PHONE)
    totals = numbers.aggregate(numbers=Count("pk"), clients=Count("client_id", distinct=True))

    def owners_of(values: Iterable[str]) -> dict[str, tuple]:
        values, owners = sorted(set(values)), {}
        for start in range(0, len(values), 10_000):
            rows = numbers.filter(value__in=values[start : start + 10_000])
            for value, pk, name, source in rows.values_list("value", "client_id", "client__name", "source"):
                owners[value] = (pk, name, source)
        return owners

    odd, twins = [], []
    typed = owners_of([*unnormalised, *filter(None, unnormalised.values())])
    for value, normal in sorted(unnormalised.items()):
        if value not in typed:
            continue  # changed since it was read: the next run checks it
        pk, name, _ = typed[value]
        odd.append(f"{name or pk} ({value} → {normal or 'not a phone number'})")
        if normal and normal in typed and typed[normal][0] != pk:
            twins.append(_twins(name or pk, value, typed[normal], normal))
    # A national form kept as a number is not normalised (it reads as the whole number), and ends
    # with the number's last digits: only numbers sharing their end with one that is not can have
    # a twin so.
    end = min([phones.MIN_CONTAINED_DIGITS, *map(len, unnormalised)])
    ends = {value[-end:][::-1] for value in unnormalised}
    rows = numbers.annotate(reversed_value=Reverse("value")).values_list("client_id", "client__name", "value")
    if len(ends) > 1_000:  # a whole import in another form: reading every row is cheaper than the ORs
        candidates = [row for row in rows.iterator() if row[2][-end:][::-1] in ends]
    elif ends:
        any_end = reduce(operator.or_, (Q(reversed_value__startswith=e) for e in ends))
        candidates = list(rows.filter(any_end))
    else:
        candidates = []
    forms = {value: phones.national_forms(value) for _, _, value in candidates}
    owners = owners_of(form for values in forms.values() for form in values)
    for pk, name, value in candidates:
        # The contained-number rule in reverse: a number people wrote without the country code.
        for form in forms[value]:
            owner = owners.get(form)
            if owner and owner[0] != pk and owner[2] != WEBHOOK:
                twins.append(_twins(name or pk, value, owner, form))
    if not odd and not twins:
        return Check(
            "client numbers",
            OK,
            f"{totals['clients']} clients, {totals['numbers']} numbers, every one a normalised phone, no twins",
        )
    parts = []
    if odd:
        parts.append(f"{len(odd)} not normalised: " + "; ".join(odd[:5]))
    if twins:
        parts.append(f"{len(twins)} look like twins: " + "; ".join(twins[:5]))
    return Check(
        "client numbers",
        WARN,
        " | ".join(parts),
        "open the client in the admin and save its number (it is normalised on save); merge twins with the "
        "admin's 'Merge' action",
        {"notNormalised": odd, "twins": twins},
    )


def _twins(label: object, value: str, owner: tuple, other: str) -> str:
    return f"{label} ({value}) and {owner[1] or owner[0]} ({other})"


def check_jobs(*, late_minutes: int = 10) -> Check:
    """Background jobs (media downloads): waiting too long means no worker runs; failed ones wait for us."""
    queue = jobs_summary()
    data = {
        "waiting": queue.waiting,
        "scheduled": queue.scheduled,
        "running": queue.running,
        "failed": queue.failed,
        "oldestWaitingAt": iso(queue.oldest_waiting_at) if queue.oldest_waiting_at else None,
        "latestFailure": queue.latest_failure,
        "workers": queue.workers,
    }
    detail = (
        f"{queue.waiting} waiting, {queue.scheduled} to retry later, {queue.running} running, "
        f"{queue.failed} failed; {queue.workers} worker(s) alive"
    )
    if queue.oldest_waiting_at:
        age = timezone.now() - queue.oldest_waiting_at
        detail += f"; oldest waiting since {iso(queue.oldest_waiting_at)} ({_ago(age)})"
        if age > timedelta(minutes=late_minutes):
            return Check(
                "background jobs",
                FAIL,
                detail + f": nothing has taken a job for over {late_minutes} min",
                "start the worker: the Procfile's worker: line (./scripts/serve starts it)",
                data,
            )
    if queue.failed:
        return Check(
            "background jobs",
            WARN,
            f"{detail}; latest: {queue.latest_failure}",
            "fix the cause, then: manage.py jobs_retry --all (or the admin's Background jobs page)",
            data,
        )
    return Check("background jobs", OK, detail, data=data)


def check_backfill(*, webhook_settings: Check | None = None) -> Check:
    """The last backfill and what it recovered: each recovered message is one the webhook missed."""
    report = last_backfill()
    since = timezone.now() - timedelta(hours=24)
    recovered = Message.objects.filter(recovered_at__gte=since)
    count = recovered.count()
    latest = recovered.order_by("-recovered_at").first()
    data = {"lastRun": report, "recoveredLast24h": count}
    if report is None:
        detail = "no backfill recorded" + (f"; {count} message(s) recovered in 24 h" if count else "")
        if not settings.GREEN_API_BACKFILL_MINUTES:
            return Check(
                "backfill",
                WARN,
                detail + " (GREEN_API_BACKFILL_MINUTES=0: off)",
                "turn it on, or run manage.py greenapi_backfill --minutes 1440 now and then",
                data,
            )
        return Check(
            "backfill",
            WARN,
            detail,
            "start the worker (the Procfile's worker: line), or: manage.py greenapi_backfill",
            data,
        )
    at = datetime.fromisoformat(report["at"])
    detail = (
        f"last run {iso(at)} ({_ago(timezone.now() - at)} ago) over {report['minutes']} min: recovered "
        f"{report['recovered']} of {report['seen']}; {count} recovered in 24 h"
    )
    if report.get("errors"):
        return Check(
            "backfill",
            WARN,
            f"{detail}; could not read: {'; '.join(report['errors'][:3])}",
            "it tries again on its next run; or: manage.py greenapi_backfill",
            data,
        )
    interval = timedelta(minutes=max(settings.GREEN_API_BACKFILL_MINUTES, 1))
    if settings.GREEN_API_BACKFILL_MINUTES and timezone.now() - at > 3 * interval + timedelta(minutes=5):
        return Check("backfill", WARN, f"{detail}; none since", "start the worker (the Procfile's worker: line)", data)
    if latest is None:
        return Check("backfill", OK, detail + ": the webhook missed nothing", data=data)
    cause = likely_cause(latest, webhook_settings=webhook_settings)
    data["likelyCause"] = cause
    return Check(
        "backfill",
        WARN,
        f"{detail}; latest {latest.external_id} sent {iso(latest.sent_at or latest.created_at)}: the webhook "
        f"missed it. Likely cause: {cause}",
        "nothing was lost (the backfill stored them); fix the cause above so the webhook gets them first",
        data,
    )


def likely_cause(message: Message, *, webhook_settings: Check | None) -> str:
    """Why the webhook missed a message the backfill found: its URL, this server, or the queue."""
    if webhook_settings is not None and webhook_settings.data.get("problems"):
        return f"the webhook settings ({webhook_settings.detail})"
    at = message.sent_at or message.created_at
    window = timedelta(minutes=5)
    recovered = Message.objects.exclude(recovered_at=None).exclude(notification_id=None).values("notification_id")
    arrived = (
        Notification.objects.filter(received_at__range=(at - window, at + window)).exclude(id__in=recovered).exists()
    )
    if not arrived:
        return (
            f"this server was down or unreachable then: no notification arrived from {iso(at - window)} to "
            f"{iso(at + window)}"
        )
    return (
        "Green API's queue never delivered it, although notifications were arriving then (messages that never "
        "reached the queue: green-api issues #601, #1020, #1118)"
    )


def diagnose(*, quiet_hours: int = 24) -> list[Check]:
    database = check_database()
    checks = [database, check_webhook_token(), *check_green_api()]
    if database.status == FAIL:
        return [*checks, Check("stored data", FAIL, "not checked: the database is not usable")]
    steps: list[Callable[[], Check]] = [
        lambda: check_last_notification(quiet_hours=quiet_hours),
        check_failed_notifications,
        check_client_numbers,
        check_jobs,
        lambda: check_backfill(webhook_settings=next(c for c in checks if c.name == "Green API webhook settings")),
    ]
    for step in steps:
        try:
            checks.append(step())
        except DatabaseError as error:
            checks.append(Check(step.__name__, FAIL, f"database error: {error}"))
    return checks


def _ago(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
