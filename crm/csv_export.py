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


# A leading =, +, - or @ makes a spreadsheet run the cell as a formula (and `+7 999…` phones would be
# read as numbers): a leading apostrophe keeps it text.
FORMULA_STARTS = frozenset("=+-@")
# Characters sent at a time: a row each would be a write (and an HTTP chunk) each, which cost more
# than making the rows; the header goes first on its own, so the download starts at once.
CHUNK_CHARS = 64 * 1024


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def rows_as_csv(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writerow, cell, formula = csv.writer(buffer).writerow, _cell, FORMULA_STARTS
    yield BOM + _line(header)
    for row in rows:
        # Most cells are text that starts with a letter: that case inline, the rest by _cell.
        writerow([("'" + v if v[:1] in formula else v) if v.__class__ is str else cell(v) for v in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _line(values: list[str]) -> str:
    line = io.StringIO()
    csv.writer(line).writerow(values)
    return line.getvalue()


def csv_response(filename: str, header: list[str], rows: Iterable[list[object]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows_as_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_write(file: BinaryIO, header: list[str], rows: Iterable[list[object]]) -> int:
    """The same CSV written into `file` (a background export's), a chunk at a time; how many rows."""
    text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=False)
    counted = [0]

    def counting() -> Iterator[list[object]]:
        for row in rows:
            counted[0] += 1
            yield row

    try:
        for chunk in rows_as_csv(header, counting()):
            text.write(chunk)
        text.flush()
    finally:
        text.detach()  # the caller's file stays open
    return counted[0]


def streamed(queryset: QuerySet, chunk_size: int = 2000) -> Iterator:
    """The rows of `queryset` as they are sent, with constant memory from the first row.

    Inside a transaction: outside one, Django declares PostgreSQL's cursor WITH HOLD, and PostgreSQL
    builds the whole result (3,000,000 rows) before the first byte."""
    with transaction.atomic(using=queryset.db):
        yield from queryset.iterator(chunk_size=chunk_size)
