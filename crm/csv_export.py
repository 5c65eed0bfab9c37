"""CSV that opens right in a spreadsheet, streamed so a large selection never sits in memory."""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

from django.db import transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

# Excel reads a file as UTF-8 only when it starts with the byte-order mark; without it Cyrillic and
# emoji come out as mojibake.
BOM = "\ufeff"


class _Echo:
    def write(self, value: str) -> str:
        return value


# A leading =, +, - or @ makes a spreadsheet run the cell as a formula (and `+7 999…` phones would be
# read as numbers): a leading apostrophe keeps it text.
FORMULA_STARTS = ("=", "+", "-", "@")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def rows_as_csv(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list[object]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows_as_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_write(file: BinaryIO, header: list[str], rows: Iterable[list[object]]) -> int:
    """The same CSV written into `file` (a background export's), a row at a time; how many rows."""
    text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=False)
    lines = 0
    try:
        for line in rows_as_csv(header, rows):
            text.write(line)
            lines += 1
        text.flush()
    finally:
        text.detach()  # the caller's file stays open
    return lines - 1  # the header is not a row


def streamed(queryset: QuerySet, chunk_size: int = 2000) -> Iterator:
    """The rows of `queryset` as they are sent, with constant memory from the first row.

    Inside a transaction: outside one, Django declares PostgreSQL's cursor WITH HOLD, and PostgreSQL
    builds the whole result (3,000,000 rows) before the first byte."""
    with transaction.atomic(using=queryset.db):
        yield from queryset.iterator(chunk_size=chunk_size)
