"""Exports too large to stream: the message list's export action past EXPORT_STREAM_MAX_ROWS enqueues
a job that writes the CSV into the storage; staff see it on *Your exports* and download it there,
only their own (a superuser's: anyone's), only while they may view messages; old files are deleted."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.test import Client as HttpClient
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from clients.models import Client
from conftest import make_jobs_due, run_jobs
from jobs.services import jobs_schedule
from whatsapp.exports import HEADER, exports_clean
from whatsapp.models import Message, MessageExport

pytestmark = pytest.mark.django_db

LIST = "/admin/whatsapp/message/"
EXPORTS = "/admin/whatsapp/message/exports/"


@pytest.fixture(autouse=True)
def small_threshold(settings, media_root):
    """Past two messages an export is a job: the tests need no million rows to get one."""
    settings.EXPORT_STREAM_MAX_ROWS = 2


@pytest.fixture
def messages() -> list[Message]:
    anna = Client.objects.create(name="Анна", phone="+7 999 123-45-67", whatsapp_id="79991234567")
    boris = Client.objects.create(name="Борис", whatsapp_id="79997654321")
    now = timezone.now()
    rows = [
        (anna, "inbound", "Где мой заказ? 🚚 доставка"),
        (anna, "outbound", "=1+1 курьер едет"),
        (boris, "inbound", "Здравствуйте, доставка сегодня?"),
        (boris, "outbound", 'Да, "до 18:00", с ответом, запятыми'),
        (anna, "inbound", "Спасибо\nвторая строка"),
    ]
    return [
        Message.objects.create(
            client=client,
            direction=direction,
            status="received" if direction == "inbound" else "delivered",
            content=text,
            external_id=f"EXPORT{i:010d}",
            created_at=now - timedelta(minutes=10 - i),
        )
        for i, (client, direction, text) in enumerate(rows)
    ]


def person(*, superuser: bool = False, perms: tuple[str, ...] = ("view_message",), staff: bool = True) -> User:
    user = User.objects.create_user(
        email=f"{uuid.uuid4().hex[:8]}@example.com", password="x", is_staff=staff, is_superuser=superuser
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user


def signed_in(user: User) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def export_all(http: HttpClient, query: str = "") -> object:
    """Django's "select all" on the message list (its filters in the address), then the export action."""
    data = {"action": "export_csv", "select_across": "1", "index": "0", "_selected_action": "x"}
    return http.post(LIST + query, data)


def streamed_csv(http: HttpClient, settings, query: str = "") -> bytes:
    """The same selection streamed, as it is below the threshold."""
    before, settings.EXPORT_STREAM_MAX_ROWS = settings.EXPORT_STREAM_MAX_ROWS, 1000
    try:
        return b"".join(export_all(http, query).streaming_content)
    finally:
        settings.EXPORT_STREAM_MAX_ROWS = before


def downloaded(http: HttpClient, export: MessageExport) -> bytes:
    answer = http.get(f"{EXPORTS}{export.pk}/download/")
    assert answer.status_code == 200, answer.status_code
    return b"".join(answer.streaming_content)


def test_exporting_every_message_is_a_job_that_writes_the_same_csv_as_the_stream(messages, settings) -> None:
    staff = signed_in(person())
    answer = export_all(staff)
    assert answer.status_code == 302
    assert answer["Location"] == EXPORTS
    export = MessageExport.objects.get()
    assert export.state == "waiting"
    assert DBTaskResult.objects.get().task_path == "whatsapp.exports.export_write"
    assert "being written in the background" in staff.get(EXPORTS).content.decode()

    run_jobs()
    export.refresh_from_db()
    assert (export.state, export.rows, export.reason) == ("ready", 5, "")
    body = downloaded(staff, export)
    assert body == streamed_csv(staff, settings), "the columns and cells are the streamed CSV's"
    assert export.size == len(body)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert [r[6] for r in rows[1:]] == [m.content if m.content[0] != "=" else "'" + m.content for m in messages]
    assert rows[1][2] == "79991234567"
    assert default_storage.exists(export.file.name)


def test_the_job_exports_what_the_list_was_filtered_and_searched_by(messages, settings) -> None:
    staff = signed_in(person())
    query = "?direction__exact=inbound&q=%D0%B4%D0%BE%D1%81%D1%82%D0%B0%D0%B2%D0%BA%D0%B0"  # доставка
    settings.EXPORT_STREAM_MAX_ROWS = 1
    export_all(staff, query)
    run_jobs()
    export = MessageExport.objects.get()
    body = downloaded(staff, export)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r[6] for r in rows[1:]] == [messages[0].content, messages[2].content]
    assert body == streamed_csv(staff, settings, query)
    page = staff.get(EXPORTS).content.decode()
    assert "direction__exact=inbound, q=доставка" in page
    assert export.file_name in page


def test_a_selection_up_to_the_threshold_is_still_streamed(messages) -> None:
    staff = signed_in(person())
    answer = staff.post(LIST, {"action": "export_csv", "_selected_action": [messages[0].pk, messages[1].pk]})
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content).count(b"\n") == 3
    assert not MessageExport.objects.exists()


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ({"superuser": True, "perms": ()}, True),
        ({"perms": ("view_message",)}, True),
        ({"perms": ("view_client",)}, False),
        ({"staff": False}, False),
    ],
    ids=["superuser", "staff who may view messages", "staff who may view clients only", "not staff"],
)
def test_only_who_may_view_messages_can_ask_for_an_export(messages, who, allowed) -> None:
    answer = export_all(signed_in(person(**who)))
    assert MessageExport.objects.exists() is allowed
    assert DBTaskResult.objects.exists() is allowed
    if not allowed:
        assert answer.status_code in (302, 403)
        assert answer.status_code == 403 or answer["Location"].startswith("/admin/login/")


@pytest.fixture
def ready(messages) -> tuple[User, MessageExport]:
    owner = person()
    export_all(signed_in(owner))
    run_jobs()
    return owner, MessageExport.objects.get(state="ready")


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("owner", 200),
        ("superuser", 200),
        ("other staff who may view messages", 403),
        ("owner without view_message", 403),
        ("not staff", 302),
    ],
)
def test_only_who_asked_or_a_superuser_downloads_the_file(ready, who, status) -> None:
    owner, export = ready
    user = {
        "owner": owner,
        "superuser": person(superuser=True, perms=()),
        "other staff who may view messages": person(),
        "not staff": person(staff=False),
    }.get(who)
    if who == "owner without view_message":
        owner.user_permissions.clear()
        user = User.objects.get(pk=owner.pk)
    answer = signed_in(user).get(f"{EXPORTS}{export.pk}/download/")
    assert answer.status_code == status
    if status == 200:
        assert answer["Content-Disposition"] == f'attachment; filename="{export.file_name}"'
        assert answer["Content-Type"] == "text/csv; charset=utf-8"
        assert answer["X-Content-Type-Options"] == "nosniff"
        assert b"".join(answer.streaming_content).startswith("\ufeffid,client".encode())
    else:
        assert not hasattr(answer, "streaming_content")


def test_nobody_signed_in_is_sent_to_the_login_page(ready) -> None:
    _, export = ready
    for url in (EXPORTS, f"{EXPORTS}{export.pk}/download/"):
        answer = HttpClient().get(url)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/admin/login/")


def test_staff_see_their_own_exports_and_a_superuser_everyones(ready) -> None:
    owner, export = ready
    link = f"{EXPORTS}{export.pk}/download/"
    assert link in signed_in(owner).get(EXPORTS).content.decode()
    assert link in signed_in(person(superuser=True, perms=())).get(EXPORTS).content.decode()
    other = signed_in(person()).get(EXPORTS)
    assert other.status_code == 200
    assert link not in other.content.decode()
    assert signed_in(person(perms=("view_client",))).get(EXPORTS).status_code == 403


def test_the_message_list_links_to_the_exports(messages) -> None:
    assert f'href="{EXPORTS}"' in signed_in(person()).get(LIST).content.decode()


def test_an_export_not_ready_or_gone_is_404_and_reading_only_is_allowed(messages) -> None:
    owner = person()
    http = signed_in(owner)
    export_all(http)
    export = MessageExport.objects.get()
    assert http.get(f"{EXPORTS}{export.pk}/download/").status_code == 404, "not written yet"
    page = http.get(EXPORTS).content.decode()
    assert "Waiting" in page
    assert '<meta http-equiv="refresh"' in page, "the page looks again while it waits"
    assert http.get(f"{EXPORTS}{uuid.uuid4()}/download/").status_code == 404
    assert http.post(EXPORTS).status_code == 405
    run_jobs()
    assert http.post(f"{EXPORTS}{export.pk}/download/").status_code == 405
    default_storage.delete(MessageExport.objects.get().file.name)
    assert http.get(f"{EXPORTS}{export.pk}/download/").status_code == 404, "the file is missing: 404, not 500"


def test_an_export_whose_selection_cannot_be_read_fails_at_once_with_the_reason(messages) -> None:
    owner = person()
    http = signed_in(owner)
    export_all(http)
    MessageExport.objects.update(query=b"not a pickle")
    run_jobs()
    export = MessageExport.objects.get()
    assert export.state == "failed"
    assert "cannot be read again" in export.reason
    assert "cannot be read again" in http.get(EXPORTS).content.decode()


def test_old_exports_are_deleted_with_their_files_and_the_clean_up_runs_while_there_are_any(ready, settings) -> None:
    settings.EXPORTS_KEEP_DAYS = 7
    _, old = ready
    name = old.file.name
    MessageExport.objects.filter(pk=old.pk).update(requested_at=timezone.now() - timedelta(days=8))
    export_all(signed_in(person()))
    run_jobs()
    recent = MessageExport.objects.exclude(pk=old.pk).get()
    assert exports_clean() == 1
    assert not MessageExport.objects.filter(pk=old.pk).exists()
    assert not default_storage.exists(name)
    assert default_storage.exists(recent.file.name)

    clean_up = DBTaskResult.objects.filter(task_path="whatsapp.exports.exports_clean_periodic")
    assert jobs_schedule() == 1
    assert clean_up.count() == 1, "one clean-up waits while there are exports"
    MessageExport.objects.update(requested_at=timezone.now() - timedelta(days=8))
    run_jobs()
    assert not MessageExport.objects.exists()
    make_jobs_due()
    run_jobs()
    assert jobs_schedule() == 0, "no exports, no clean-up"
    settings.EXPORTS_KEEP_DAYS = 0
    export_all(signed_in(person()))
    assert jobs_schedule() == 0, "EXPORTS_KEEP_DAYS=0 keeps them"
