"""Realistic demo data, loaded fast: clients from Russia, Kazakhstan and Brazil and their WhatsApp history.

Rows go into the tables through plain COPY (PostgreSQL) or INSERT (SQLite), never around them, so the
database's own triggers (the counters behind /whatsapp/stats) see every row as they would a webhook's.
Names, texts and times follow `seed`; ids are always fresh, so a second run appends instead of colliding.
"""

import random
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from operator import itemgetter
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from clients.models import Client
from clients.services import client_find_or_create_by_group, client_numbers_unnormalised
from whatsapp.models import Message

# The instance of the Green API payload examples: demo messages look like they came through it.
DEMO_INSTANCE_ID = 1103123456
BUSINESS_NAME = "Demo Shop"
MEDIA_URL = "https://sw-media-1103.storage.yandexcloud.net/1103123456/"

# One COPY statement (and transaction) per chunk: the counters' statement triggers aggregate a chunk at
# a time, WAL is flushed as we go, and an interrupted load keeps what it committed.
CHUNK_ROWS = 100_000
PROGRESS_EVERY = 10_000
SQLITE_BATCH = 1_000

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Locale:
    prefixes: tuple[str, ...]  # country code and operator or area code
    digits: int  # subscriber digits after the prefix
    men: tuple[str, ...]
    women: tuple[str, ...]
    last_names: tuple[str, ...]  # a man's form
    feminine: str  # appended to a surname for a woman ("" where surnames do not change)
    incoming: tuple[str, ...]  # "{n}" becomes an order number
    outgoing: tuple[str, ...]
    captions: tuple[str, ...]
    documents: tuple[str, ...]
    places: tuple[tuple[str, float, float], ...]  # "name, address", latitude, longitude


RUSSIA = Locale(
    prefixes=("79",),
    digits=9,
    men=("Алексей", "Дмитрий", "Сергей", "Иван", "Михаил", "Андрей"),
    women=("Анна", "Мария", "Елена", "Ольга", "Дарья", "Татьяна"),
    last_names=("Смирнов", "Иванов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков", "Морозов"),
    feminine="а",
    incoming=(
        "Здравствуйте! Хочу заказать доставку на завтра 🚚 Сколько стоит?",
        "Добрый день, где мой заказ №{n}?",
        "Спасибо, всё получила 👍",
        "Можно перенести доставку на вечер?",
        "Подскажите, есть ли этот товар в наличии?",
        "Оплатил заказ №{n}, проверьте, пожалуйста",
        "Курьер не приехал, что случилось?",
        "Хочу вернуть товар, как это сделать?",
        "А скидка для постоянных клиентов есть?",
        "Ок",
    ),
    outgoing=(
        "Здравствуйте! Ваш заказ №{n} передан курьеру 📦",
        "Спасибо за обращение! Менеджер ответит в течение 15 минут.",
        "Доставка завтра с 10:00 до 14:00, удобно?",
        "Оплата по заказу №{n} получена, спасибо!",
        "Напомним: ваш заказ ждёт в пункте выдачи до пятницы.",
    ),
    captions=("Вот фото повреждённой упаковки 📦", "Чек", "Вот такой нужен", ""),
    documents=("Реквизиты ООО Ромашка.pdf", "Счёт №{n}.pdf", "Договор поставки.docx", "Акт сверки.xlsx"),
    places=(("ТЦ Европейский, пл. Киевского Вокзала, 2, Москва", 55.7446, 37.5657),),
)
KAZAKHSTAN = Locale(
    prefixes=("7701", "7702", "7705", "7707", "7747", "7771", "7775", "7777", "7778"),
    digits=7,
    men=("Ерлан", "Нурлан", "Данияр", "Бауыржан", "Арман", "Асхат"),
    women=("Айгерим", "Асель", "Жанар", "Гульнара", "Динара", "Меруерт"),
    last_names=("Нурланов", "Ахметов", "Сериков", "Жумабаев", "Касымов", "Абдрахманов", "Оспанов"),
    feminine="а",
    incoming=(
        "Сәлеметсіз бе! Тапсырысым қашан келеді?",
        "Рахмет, алдым 🙏",
        "Здравствуйте, доставка в Астану есть?",
        "Заказ №{n} ещё не пришёл",
        "Бағасы қанша?",
        "Можно оплатить через Kaspi?",
    ),
    outgoing=(
        "Сәлеметсіз бе! Тапсырысыңыз №{n} жолда 🚚",
        "Да, доставляем по всему Казахстану.",
        "Kaspi QR отправили, проверьте, пожалуйста.",
    ),
    captions=("Мына суретті қараңыз", "Чек Kaspi", ""),
    documents=("Шот-фактура №{n}.pdf", "Прайс 2025.xlsx"),
    places=(("ТРЦ Mega Alma-Ata, ул. Розыбакиева, 247А, Алматы", 43.2020, 76.8921),),
)
BRAZIL = Locale(
    prefixes=("55119", "55219", "55319", "55419", "55519", "55619", "55719", "55819"),
    digits=8,
    men=("João", "Pedro", "Lucas", "Gabriel", "Rafael", "Thiago"),
    women=("Maria", "Ana", "Juliana", "Fernanda", "Beatriz", "Camila"),
    last_names=("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Rodrigues", "Almeida", "Lima"),
    feminine="",
    incoming=(
        "Olá! Meu pedido #{n} já foi enviado?",
        "Bom dia, vocês entregam no sábado?",
        "Obrigado, recebi tudo certinho 😊",
        "Qual o prazo de entrega para São Paulo?",
        "Posso pagar com Pix?",
        "Quero trocar o tamanho, como faço?",
    ),
    outgoing=(
        "Olá! Seu pedido #{n} foi enviado 📦 Código de rastreio: BR{n}XX",
        "Sim, aceitamos Pix! Segue a chave.",
        "A entrega está prevista para amanhã.",
    ),
    captions=("Segue a foto do produto", "Comprovante do Pix", ""),
    documents=("comprovante_{n}.pdf", "nota_fiscal_{n}.pdf", "contrato.pdf"),
    places=(("Shopping Ibirapuera, Av. Ibirapuera, 3103, São Paulo", -23.6101, -46.6669),),
)
LOCALES = (RUSSIA, KAZAKHSTAN, BRAZIL)
LOCALE_WEIGHTS = (60, 20, 20)

# typeMessage mixes: mostly text, as in a shop's real inbox; we send documents (invoices) more often.
INBOUND_TYPES = (("textMessage", 85), ("imageMessage", 8), ("documentMessage", 4), ("locationMessage", 3))
OUTBOUND_TYPES = (("textMessage", 90), ("documentMessage", 7), ("imageMessage", 3))
OUTBOUND_STATUSES = (("sent", 8), ("delivered", 25), ("read", 62), ("failed", 5))
INBOUND_SHARE = 0.6
MIME_TYPES = {"pdf": "application/pdf", "xlsx": "application/vnd.ms-excel", "docx": "application/msword"}


@dataclass(frozen=True)
class DemoClient:
    id: uuid.UUID
    whatsapp_id: str
    first_name: str  # what WhatsApp shows as the sender's name
    name: str
    locale: Locale


@dataclass(frozen=True)
class Seeded:
    clients_created: int
    clients_used: int
    messages: int


def demo_data_load(
    *, clients: int, messages: int, seed: int | None = None, days: int = 90, progress: Progress | None = None
) -> Seeded:
    """Add `clients` new clients and `messages` messages spread over the last `days` days."""
    rng = random.Random(seed)
    now = timezone.now()
    before = Client.objects.count()
    people = _clients_load(rng, clients, now - timedelta(days=days), progress)
    created = Client.objects.count() - before
    if messages and not people:
        people = _existing_clients()
    if messages and not people:
        raise ValueError("There are no clients with a WhatsApp id to attach messages to: ask for some clients too.")
    rows = _message_rows(rng, people, messages, now=now, days=days)
    _messages_load(rows, messages, progress)
    return Seeded(clients_created=created, clients_used=len(people), messages=messages)


GROUP_NAMES = ("Отдел продаж 🇰🇿", "Оптовики Москва", "Доставка Алматы", "Clientes VIP São Paulo", "Поставщики")
GROUP_MESSAGES = 20  # each group's, from a few of its participants and from us


def demo_groups_load(*, groups: int, seed: int | None = None, days: int = 90) -> int:
    """Add `groups` WhatsApp group chats of demo clients, each a conversation of its own with
    GROUP_MESSAGES messages, each of a participant's with its author. How many messages were added.

    Few rows, so through the ORM (the triggers see them as any insert)."""
    rng = random.Random(seed)
    people = _existing_clients()
    if groups and len(people) < 3:
        raise ValueError("A group needs at least three clients with a WhatsApp id: ask for some clients too.")
    now, rows = timezone.now(), []
    for g in range(groups):
        group_id = "1203630" + str(rng.randrange(10**11)).zfill(11)
        name = GROUP_NAMES[g % len(GROUP_NAMES)]
        # A transaction of its own, as the webhook's: the number's row goes first, its client's
        # foreign key is checked at commit.
        with transaction.atomic():
            group, _ = client_find_or_create_by_group(group=group_id, name=name)
        members = rng.sample(people, min(len(people), rng.randint(3, 6)))
        for i in range(GROUP_MESSAGES):
            author = rng.choice(members) if rng.random() < INBOUND_SHARE else None
            locale = (author or members[0]).locale
            words = locale.incoming if author else locale.outgoing
            at = now - timedelta(seconds=rng.random() * days * 86400)
            rows.append(
                Message(
                    client=group,
                    author_id=author.id if author else None,
                    direction="inbound" if author else "outbound",
                    type_message="textMessage",
                    content=rng.choice(words).replace("{n}", str(rng.randrange(1000, 99999))),
                    external_id=f"DEMOGROUP{secrets.token_hex(8).upper()}{i:04d}",
                    instance_id=DEMO_INSTANCE_ID,
                    status="received" if author else "read",
                    chat_id=f"{group_id}@g.us",
                    chat_name=name,
                    sender_name=author.first_name if author else BUSINESS_NAME,
                    sent_at=at,
                    created_at=at,
                )
            )
    Message.objects.bulk_create(rows, batch_size=SQLITE_BATCH)
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Generation.


def _clients_load(
    rng: random.Random, count: int, joined_before: datetime, progress: Progress | None
) -> list[DemoClient]:
    people: dict[str, DemoClient] = {}
    while len(people) < count:  # bounded: the number space is a million times larger than any count
        locale = rng.choices(LOCALES, LOCALE_WEIGHTS)[0]
        number = rng.choice(locale.prefixes) + str(rng.randrange(10**locale.digits)).zfill(locale.digits)
        woman = rng.random() < 0.5
        first = rng.choice(locale.women if woman else locale.men)
        last = rng.choice(locale.last_names) + (locale.feminine if woman else "")
        people.setdefault(number, DemoClient(uuid.uuid4(), number, first, f"{first} {last}", locale))
    rows = []
    for person in people.values():
        joined = joined_before - timedelta(seconds=rng.randrange(30 * 86400))
        rows.append(
            {
                "id": person.id,
                "name": person.name,
                "phone": "+" + person.whatsapp_id,
                "whatsapp_id": person.whatsapp_id,
                "whatsapp_lid": None,
                "created_at": joined,
                "updated_at": joined,
            }
        )
    ids = _clients_insert(rows)
    # Numbers are checked where they are written: parsed here once, so the doctor's next run does
    # not parse 100,000 of them (clients.services.client_numbers_unnormalised).
    client_numbers_unnormalised()
    if progress and count:
        progress("clients", count, count)
    # A number that already belonged to a client keeps that client: its messages go there.
    return [DemoClient(ids[p.whatsapp_id], p.whatsapp_id, p.first_name, p.name, p.locale) for p in people.values()]


def _existing_clients() -> list[DemoClient]:
    rows = Client.objects.exclude(whatsapp_id=None).values_list("id", "whatsapp_id", "name")[:100_000]
    return [DemoClient(pk, number, (name or "").split(" ")[0], name, _locale_of(number)) for pk, number, name in rows]


def _locale_of(number: str) -> Locale:
    return BRAZIL if number.startswith("55") else KAZAKHSTAN if number.startswith("77") else RUSSIA


def _texts(rng: random.Random, templates: tuple[str, ...], size: int = 500) -> tuple[str, ...]:
    # Formatted once up front: the per-row loop only picks.
    return tuple(rng.choice(templates).replace("{n}", str(rng.randrange(1000, 99999))) for _ in range(size))


def _message_rows(
    rng: random.Random, people: list[DemoClient], count: int, *, now: datetime, days: int
) -> Iterator[dict[str, Any]]:
    texts = {
        id(loc): {
            "in": _texts(rng, loc.incoming),
            "out": _texts(rng, loc.outgoing),
            "doc": _texts(rng, loc.documents),
        }
        for loc in LOCALES
    }
    in_types, in_weights = zip(*INBOUND_TYPES, strict=True)
    out_types, out_weights = zip(*OUTBOUND_TYPES, strict=True)
    statuses, status_weights = zip(*OUTBOUND_STATUSES, strict=True)
    # Green API's shapes: 32 hex digits for what clients send, 20 for what we send. The random prefix
    # keeps every run's ids apart, whatever the seed.
    in_prefix, out_prefix = secrets.token_hex(8).upper(), "3EB0" + secrets.token_hex(4).upper()
    span = days * 86400
    chat_ids = {p.whatsapp_id: p.whatsapp_id + "@c.us" for p in people}
    for i in range(count):
        # A few clients write most of the messages, as in any real inbox.
        person = people[int(len(people) * rng.random() ** 2)]
        words = texts[id(person.locale)]
        inbound = rng.random() < INBOUND_SHARE
        kind = rng.choices(in_types, in_weights)[0] if inbound else rng.choices(out_types, out_weights)[0]
        created = now - timedelta(seconds=rng.random() * span)
        row = {
            "id": uuid.uuid4(),
            "client_id": person.id,
            "channel": "whatsapp",
            "direction": "inbound" if inbound else "outbound",
            "type_message": kind,
            "content": rng.choice(words["in" if inbound else "out"]),
            "external_id": f"{in_prefix}{i:016X}" if inbound else f"{out_prefix}{i:08X}",
            "instance_id": DEMO_INSTANCE_ID,
            "status": "received" if inbound else rng.choices(statuses, status_weights)[0],
            "status_description": "",
            "chat_id": chat_ids[person.whatsapp_id],
            "chat_name": "",
            "sender_name": person.first_name if inbound else BUSINESS_NAME,
            "media_url": "",
            "file_name": "",
            "mime_type": "",
            "latitude": None,
            "longitude": None,
            "quoted_external_id": "",
            "edited_at": None,
            "deleted_at": None,
            "reaction": "",
            "sent_at": created - timedelta(seconds=rng.randrange(5)),
            "notification_id": None,
            "created_at": created,
            "updated_at": created,
        }
        if kind != "textMessage":
            _attach(row, kind, rng, person.locale, words["doc"])
        yield row


def _attach(row: dict[str, Any], kind: str, rng: random.Random, locale: Locale, documents: tuple[str, ...]) -> None:
    """The media fields, and the text the webhook would have made of them (see whatsapp.notifications)."""
    if kind == "locationMessage":
        place, lat, lon = rng.choice(locale.places)
        row.update(
            content=f"📍 {place}", latitude=lat + rng.uniform(-0.05, 0.05), longitude=lon + rng.uniform(-0.05, 0.05)
        )
        return
    if kind == "imageMessage":
        name = f"{uuid.uuid4()}.jpg"
        caption = rng.choice(locale.captions)
        row.update(content=caption or "🖼 Photo", file_name=name, mime_type="image/jpeg")
    else:
        name = rng.choice(documents)
        row.update(content=f"📄 Document: {name}", file_name=name, mime_type=MIME_TYPES[name.rsplit(".", 1)[1]])
    row["media_url"] = MEDIA_URL + (name if kind == "imageMessage" else f"{uuid.uuid4()}.{name.rsplit('.', 1)[1]}")


# ---------------------------------------------------------------------------------------------
# Loading.


def _shape(model: type[Model]) -> tuple[list[str], list[str], dict[str, Any]]:
    """Columns and attnames in table order, and the prepared default of every field.

    A column added to the model after this module was written gets its default (NULL when it has
    none and may be null), so the load keeps working; the generated values override the defaults.
    """
    fields = model._meta.concrete_fields
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields if f.has_default() or f.null}
    return [f.column for f in fields], [f.attname for f in fields], defaults


def _copy(table: str, model: type[Model], rows: Iterable[dict[str, Any]], every: Callable[[], None] | None) -> None:
    columns, attnames, defaults = _shape(model)
    values = itemgetter(*attnames)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Django's wrapper hands over psycopg's own cursor: COPY is psycopg's, not the ORM's.
        with cursor.cursor.copy(f"COPY {qn(table)} ({', '.join(map(qn, columns))}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(values({**defaults, **row}))
                if every:
                    every()


def _clients_insert(rows: list[dict[str, Any]]) -> dict[str, uuid.UUID]:
    """Insert the clients whose number is new; the id of every number, new or already there."""
    numbers = [r["whatsapp_id"] for r in rows]
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("CREATE TEMPORARY TABLE demo_clients (LIKE clients INCLUDING DEFAULTS)")
            _copy("demo_clients", Client, rows, None)
            with connection.cursor() as cursor:
                # Through a plain INSERT, so the clients' triggers count them.
                cursor.execute("INSERT INTO clients SELECT * FROM demo_clients ON CONFLICT DO NOTHING")
                # Dropped here, not ON COMMIT: inside a caller's transaction there is no commit yet.
                cursor.execute("DROP TABLE demo_clients")
    else:
        Client.objects.bulk_create([Client(**r) for r in rows], batch_size=SQLITE_BATCH, ignore_conflicts=True)
    ids: dict[str, uuid.UUID] = {}
    for start in range(0, len(numbers), SQLITE_BATCH):
        chunk = numbers[start : start + SQLITE_BATCH]
        ids.update(Client.objects.filter(whatsapp_id__in=chunk).values_list("whatsapp_id", "id"))
    return ids


def _messages_load(rows: Iterator[dict[str, Any]], total: int, progress: Progress | None) -> None:
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress and (done % PROGRESS_EVERY == 0 or done == total):
            progress("messages", done, total)

    table = Message._meta.db_table
    for _ in range(0, total, CHUNK_ROWS):
        chunk = islice(rows, CHUNK_ROWS)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                _copy(table, Message, chunk, tick)
            else:
                batch = [Message(**row) for row in chunk]
                Message.objects.bulk_create(batch, batch_size=SQLITE_BATCH)
                for _ in batch:
                    tick()
