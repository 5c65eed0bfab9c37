"""Every admin URL there is, as each role, with realistic data: no page answers 500, and a role
sees and does only what its permissions allow.

The URLs come from the admin site itself (its registry and URL patterns), the query strings from
the pages (each filter choice, each sortable column, the date hierarchy, paging, the conversation's
older messages), the actions from each admin's action list: a new model, view or filter is opened
here without anyone adding it, and a pattern this test cannot fill fails it.
"""

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import DateField
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from clients.models import Client
from conftest import PAYLOADS, make_jobs_due, payload, run_jobs
from inbox.models import Agent, Conversation
from inbox.roles import roles_ensure
from inbox.services import conversation_change
from jobs.models import WorkerBeat
from jobs.services import worker_beat
from jobs.tests.test_jobs import media_job
from whatsapp.exports import export_request
from whatsapp.models import AutoReply, CannedReply, Instance, Message, MessageExport, Note, Notification, OpeningHours

pytestmark = pytest.mark.django_db

SEARCH_TERMS = ["79991234567", "+7 999 123-45-67", "Анна", "textMessage", "%_'\"<>", "BAE5"]
# What restricted roles must get where they may not act: refused, or sent elsewhere.
REFUSED = (302, 403, 405)


# -------------------------------------------------------------------------------------------------
# Data: what the webhook makes of every payload Green API sends, plus what staff make.


def build_data(post_webhook, repair_message_inserts, fake_greenapi) -> None:
    # The outcomes the payloads do not produce: failed (the database refuses the message, until
    # repaired) and ignored (a group message without its participant).
    failing = payload("incomingMessageReceived.textMessage.json")
    failing["idMessage"] = "REFUSED-BY-THE-DATABASE"
    post_webhook(failing)
    repair_message_inserts()
    for path in sorted(PAYLOADS.glob("*.json")):
        assert post_webhook(payload(path.name)).status_code == 200, path.name
    group = payload("incomingMessageReceived.textMessage.group.json")
    group["idMessage"] = "GROUP-WITHOUT-SENDER"
    del group["senderData"]["sender"]
    post_webhook(group)
    assert {o for (o,) in Notification.objects.values_list("outcome")} == set(Notification.Outcome.values)

    anna = Client.objects.create(name="Анна", phone="+7 999 123-45-67", whatsapp_id="79991234567")
    Client.objects.create(name="Анна (twin)", whatsapp_lid="120650379300963")
    Client.objects.create(name="", phone="8 916 000-00-00")
    now = timezone.now()
    # More than a page, many in one WhatsApp second: the conversation pages back through them.
    Message.objects.bulk_create(
        Message(
            client=anna,
            direction="inbound" if i % 3 else "outbound",
            status="received" if i % 3 else "delivered",
            content=f"сообщение {i}",
            external_id=f"ANNA{i:012d}",
            sent_at=now - timedelta(seconds=i // 10),
            created_at=now - timedelta(seconds=i),
        )
        for i in range(120)
    )
    Message.objects.create(
        client=anna,
        direction="inbound",
        type_message="documentMessage",
        content="📄 Document",
        media_url="javascript:alert(document.cookie)",
        file_name="invoice.pdf",
        external_id="HOSTILE-LINK",
    )
    build_exports()
    build_jobs(post_webhook, fake_greenapi)
    build_staff_data(anna)
    build_inbox(anna)
    fake_greenapi.fail_with = 466  # replies are refused by Green API (and kept as failed)
    Group.objects.create(name="Operators").permissions.set(Permission.objects.filter(codename__startswith="view_"))
    # A login and a refresh: an outstanding token, and a blacklisted one.
    api = HttpClient()
    tokens = api.post("/auth/login", {"email": "root@example.com", "password": "pw"}, content_type="application/json")
    api.post("/auth/refresh", {"refreshToken": tokens.json()["refreshToken"]}, content_type="application/json")


def build_exports() -> None:
    """An export of every message, written by its job: the superuser's, whom the others may not download from."""
    root = User.objects.get(email="root@example.com")
    export_request(queryset=Message.objects.all(), user=root)
    run_jobs()
    assert MessageExport.objects.get().state == "ready"


def build_staff_data(anna: Client) -> None:
    """What staff add around conversations: a shared canned reply (a personal one is its owner's alone,
    so no other role may open it), a private note, business hours and the automatic reply they sent."""
    root = User.objects.get(email="root@example.com")
    CannedReply.objects.create(shortcut="hello", text="Здравствуйте, {client_name}! Это {agent_name}.")
    Note.objects.create(client=anna, author=root, author_name="root", text="Звонить после 18:00")
    instance, _ = Instance.objects.update_or_create(
        id_instance=1103123456, defaults={"auto_reply_enabled": True, "auto_reply_text": "Мы закрыты, {client_name}"}
    )
    OpeningHours.objects.create(instance=instance, weekday=0, opens="09:00", closes="18:00")
    automatic = Message.objects.create(client=anna, direction="outbound", status="sent", content="Мы закрыты, Анна")
    AutoReply.objects.create(
        instance_id=1103123456, chat_id="79991234567@c.us", day=timezone.now().date(), client=anna, message=automatic
    )


def build_inbox(anna: Client) -> None:
    """Conversations in every status, one of another manager's with its history, an agent's turn."""
    roles_ensure()  # the migration's groups, should a transactional test have flushed them
    other = User.objects.create_user(email="other-manager@example.com", password="pw", is_staff=True)
    other.groups.add(Group.objects.get(name="Managers"))
    Agent.objects.create(user=other, available=False)
    conversation_change(conversation=anna.conversation, actor=other, assignee=other, note="mine now")
    statuses = ["pending", "resolved", "snoozed"]
    for conversation, status in zip(Conversation.objects.exclude(pk=anna.pk).order_by("pk"), statuses, strict=False):
        until = timezone.now() + timedelta(days=1) if status == "snoozed" else None
        conversation_change(conversation=conversation, actor=other, status=status, snoozed_until=until)


def build_jobs(post_webhook, fake) -> None:
    """Background jobs in each state: a file kept, one that keeps failing, one waiting; a worker
    alive and one gone quiet."""
    stored = media_job(post_webhook, fake)
    run_jobs()
    media_job(post_webhook, fake, behaviour="refuse")
    for _ in range(5):
        run_jobs()
        make_jobs_due()
    media_job(post_webhook, fake)
    stored.refresh_from_db()
    assert {j.status for j in DBTaskResult.objects.all()} == {"SUCCESSFUL", "FAILED", "READY"}, stored.state
    worker_beat(worker_id="host-a", host="web-1", pid=4242, starting=True)
    worker_beat(worker_id="host-b", host="web-2", pid=77, starting=True)
    WorkerBeat.objects.filter(pk="host-b").update(beat_at=timezone.now() - timedelta(hours=1))


# -------------------------------------------------------------------------------------------------
# The admin's URLs, from the site.


def admin_patterns() -> Iterator[tuple[str, URLPattern, type | None]]:
    """(route prefix, pattern, model) of every leaf URL pattern of the admin site."""
    models = {f"{m._meta.app_label}/{m._meta.model_name}/": m for m in admin.site._registry}
    for entry in admin.site.get_urls():
        if isinstance(entry, URLResolver):
            for leaf in entry.url_patterns:
                yield str(entry.pattern), leaf, models[str(entry.pattern)]
        else:
            yield "", entry, None


def parameters(route: str) -> set[str]:
    return {a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)}


def fill(route: str, values: dict[str, str]) -> str:
    """A route (`<path:object_id>/change/`) or regex (`^(?P<app_label>a|b)/$`) with its values."""
    missing = sorted(parameters(route) - set(values))
    assert not missing, f"no value for {missing} in the admin URL {route!r}: teach this test to fill it"
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m[1]], route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m[1]], route)
    return route.removeprefix("^").removesuffix("$")


def values_for(model: type | None, route: str) -> list[dict[str, str]]:
    """Every set of parameters to open `route` with: each object of the model, each app, …"""
    names = parameters(route)
    if not names:
        return [{}]
    if names == {"object_id"} and model is not None:
        return [{"object_id": quote(str(pk))} for pk in representatives(model)]
    if names == {"export_id"}:
        return [{"export_id": str(pk)} for pk in MessageExport.objects.values_list("pk", flat=True)]
    if names == {"app_label"}:
        return [{"app_label": label} for label in sorted({m._meta.app_label for m in admin.site._registry})]
    if names == {"content_type_id", "object_id"}:
        return [
            {"content_type_id": str(ContentType.objects.get_for_model(m).pk), "object_id": quote(str(obj.pk))}
            for m in admin.site._registry
            for obj in m._default_manager.all()[:1]
        ]
    if names == {"url"}:
        return [{"url": "no-such-page/"}]
    return [{name: "?" for name in names}]  # fill() names what is missing


def representatives(model: type) -> list[object]:
    """One object of each kind the model's admin filters tell apart (every object when it has no
    filters), and the message with a hostile file link."""
    list_filter = admin.site._registry[model].list_filter
    names = [f if isinstance(f, str) else getattr(f, "parameter_name", "") for f in list_filter]
    kinds = [n for n in names if n in {f.name for f in model._meta.fields if not isinstance(f, DateField)}]
    first: dict[tuple, object] = {}
    for pk, *kind in model._default_manager.order_by("pk").values_list("pk", *kinds):
        first.setdefault(tuple(kind) if kinds else (pk,), pk)
    hostile = Message.objects.filter(external_id="HOSTILE-LINK").values_list("pk", flat=True)
    return [*first.values(), *(hostile if model is Message else [])]


def page_queries(content: str) -> list[str]:
    """The query-string links of a page: filters, sorting, date hierarchy, paging, older messages."""
    return sorted({html.unescape(q) for q in re.findall(r'href="(\?[^"#]*)', content)})


class FormReader(HTMLParser):
    """The fields of a page's main form as a browser would submit them untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file", "image"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.data.setdefault(name, []).append(a.get("value", "on"))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data.setdefault(name, []).append("")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data.setdefault(self._select, []).append(a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_data(content: str) -> dict[str, list[str]]:
    main = re.search(r'<form[^>]*id="\w+_form".*?</form>', content, re.S)
    reader = FormReader()
    reader.feed(main[0] if main else "")
    return reader.data


def snapshot() -> dict[str, list]:
    return {str(m._meta): sorted(map(str, m._default_manager.values_list())) for m in admin.site._registry}


# -------------------------------------------------------------------------------------------------
# The visit.


class Visit:
    """Requests as one role, each checked: never a 5xx, never a script link, and for the restricted
    roles never a change to the database from a POST."""

    def __init__(self, http: HttpClient, role: str) -> None:
        self.http, self.role = http, role
        self.seen: set[tuple[str, str]] = set()

    def get(self, url: str, **query: str) -> object:
        answer = self.http.get(url, query)
        self.check(answer, "GET", url, query)
        return answer

    def post(self, url: str, data: dict) -> object:
        with transaction.atomic():
            before = snapshot() if self.role != "superuser" else None
            answer = self.http.post(url, data)
            self.check(answer, "POST", url, data)
            if before is not None:
                assert snapshot() == before, f"{self.role}: POST {url} {data} changed the database"
            transaction.set_rollback(True)  # what a POST did stays out of the next page's data
        return answer

    def check(self, answer, method: str, url: str, data: dict) -> None:
        assert answer.status_code < 500, f"{self.role}: {method} {url} {data} answered {answer.status_code}"
        if not answer.streaming and answer.get("Content-Type", "").startswith("text/html"):
            body = answer.content.decode()
            assert not re.search(r'href="\s*(javascript|data|vbscript):', body, re.I), f"{method} {url}: script link"


# The inbox's roles (inbox/roles.py): they change what they are given to change, so their visit reads
# every page without posting, and the manager must not open another manager's conversation.
ROLES = {"manager": "Managers", "supervisor": "Supervisors"}


def visit_model(visit: Visit, prefix: str, pattern: URLPattern, model: type, root: str) -> None:
    route = str(pattern.pattern)
    if visit.role in ROLES:
        for values in values_for(model, route):
            url = root + prefix + fill(route, values)
            visit.seen.add((prefix, route))
            answer = visit.get(url)
            if answer.status_code == 200 and "text/html" in answer.get("Content-Type", ""):
                for query in page_queries(answer.content.decode()):
                    visit.get(url + query)
        return
    for values in values_for(model, route):
        url = root + prefix + fill(route, values)
        visit.seen.add((prefix, route))
        answer = visit.get(url)
        kind = pattern.name.removeprefix(f"{model._meta.app_label}_{model._meta.model_name}_") if pattern.name else ""
        expect_get(visit, kind, url, answer)
        if answer.status_code == 200 and "text/html" in answer.get("Content-Type", ""):
            for query in page_queries(answer.content.decode()):
                visit.get(url + query)
        if kind == "changelist":
            visit_changelist(visit, url, model)
        elif visit.role != "superuser" and kind != "history":
            posted = visit.post(url, submitted(answer))
            # 404: a conversation the role may not see is one that does not exist (inbox roles).
            assert posted.status_code in (*REFUSED, 404), f"{visit.role}: POST {url} answered {posted.status_code}"
        elif kind in ("change", "add", "delete") or answer.status_code == 405:
            visit.post(url, submitted(answer))


def submitted(answer) -> dict[str, list[str]]:
    """What a user would POST there: the page's own form as it stands, or a reply's text."""
    if answer.status_code == 200 and "text/html" in answer.get("Content-Type", ""):
        return form_data(answer.content.decode())
    return {"text": ["Тест"]}


def expect_get(visit: Visit, kind: str, url: str, answer) -> None:
    """What each role may open: the view-only staff read (changelist, change, history) but never
    open a page that acts (add, delete); staff without permissions open nothing."""
    if visit.role == "superuser":
        return
    allowed = visit.role == "view-only staff" and kind in ("changelist", "change", "history", "export", "exports", "")
    if not allowed:
        assert answer.status_code in (*REFUSED, 404), f"{visit.role}: GET {url} answered {answer.status_code}"
    elif kind in ("changelist", "change", "history"):
        assert answer.status_code == 200, f"{visit.role}: GET {url} answered {answer.status_code}"


def visit_changelist(visit: Visit, url: str, model: type) -> None:
    for term in SEARCH_TERMS:
        visit.get(url, q=term)
    model_admin = admin.site._registry[model]
    selected = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)[:3]]
    for name in model_admin.actions or []:
        action = name if isinstance(name, str) else name.__name__
        data = {"action": action, "_selected_action": selected, "index": "0"}
        visit.post(url, data)
        visit.post(url, {**data, "keep": selected[0]})  # a confirmation's own submit (merge)
    for field in model_admin.autocomplete_fields:
        query = {"app_label": model._meta.app_label, "model_name": model._meta.model_name, "field_name": field}
        visit.get(reverse("admin:autocomplete"), term="Ан", **query)


def login(http: HttpClient, role: str) -> None:
    if role in ROLES:
        roles_ensure()
        user = User.objects.create_user(email=f"{role}@example.com", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=ROLES[role]))
        http.force_login(user)
        return
    if role == "superuser":
        user = User.objects.get(email="root@example.com")
    else:
        user = User.objects.create_user(email=f"{role.replace(' ', '-')}@example.com", password="pw", is_staff=True)
    if role == "view-only staff":
        user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    http.force_login(user)


@pytest.mark.parametrize("role", ["superuser", "view-only staff", "staff without permissions", *ROLES])
def test_every_admin_url_opens_for_each_role_without_a_500(
    role: str, client, post_webhook, reject_message_inserts, media_fake
) -> None:
    User.objects.create_superuser(email="root@example.com", password="pw")
    build_data(post_webhook, reject_message_inserts, media_fake)
    login(client, role)
    visit = Visit(client, role)
    root = reverse("admin:index")
    patterns = list(admin_patterns())
    for prefix, pattern, model in patterns:
        if model is not None:
            visit_model(visit, prefix, pattern, model, root)
            continue
        for values in values_for(None, str(pattern.pattern)):
            visit.seen.add((prefix, str(pattern.pattern)))
            visit.get(root + fill(str(pattern.pattern), values))
    unseen = [prefix + str(p.pattern) for prefix, p, _ in patterns if (prefix, str(p.pattern)) not in visit.seen]
    assert not unseen, f"admin URLs no data opened (add some to build_data): {unseen}"
    if role == "manager":
        theirs = Client.objects.get(whatsapp_id="79991234567").pk
        for name in ("inbox_conversation_change", "clients_client_change", "clients_client_export"):
            answer = client.get(reverse(f"admin:{name}", args=[theirs]))
            assert answer.status_code in (302, 404), (
                f"manager: {name} of another manager's answered {answer.status_code}"
            )
        assert "+7 999 123-45-67" not in client.get(reverse("admin:inbox_conversation_changelist")).content.decode()
    assert Message.objects.filter(external_id="HOSTILE-LINK").exists()
