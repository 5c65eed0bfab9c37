"""The admin's lists at any size: a count that costs nothing past a few thousand rows."""

import json
import logging

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import DatabaseError, connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

logger = logging.getLogger(__name__)

# Rows into a list past which a page's rows are found by their ids first: the ids of the rows
# skipped come from the ordering's index alone (an index-only scan where the index holds the
# order and the key), and only the page's rows are read whole. Page 2,000 of the client list
# otherwise reads 100,000 clients from the table to throw them away.
DEFERRED_OFFSET = 1000


def planner_estimate(queryset: QuerySet) -> int | None:
    """How many rows PostgreSQL's planner expects `queryset` to return (planning only, no rows read);
    None elsewhere or when it cannot say."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().query.sql_with_params()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
    except DatabaseError:
        logger.warning("No row estimate for the admin's count; counting", exc_info=True)
        return None
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def count_shown(queryset: QuerySet) -> str:
    """The rows of `queryset` as staff read them: "1,234" counted, or past ADMIN_EXACT_COUNT_LIMIT
    the planner's "about 230,000" (two significant digits; "more than 10,000" when the planner
    expects fewer, or cannot say).

    Counted up to one row past the limit, never further: the count reads at most that many rows (of
    an index, where one holds what `queryset` filters by), whatever the table's size."""
    limit = settings.ADMIN_EXACT_COUNT_LIMIT
    counted = queryset.order_by()[: limit + 1].count()
    if counted <= limit:
        return f"{counted:,}"
    estimate = planner_estimate(queryset)
    return about(estimate) if estimate is not None and estimate > limit else f"more than {limit:,}"


def about(estimate: int) -> str:
    return f"about {round(estimate, 2 - len(str(estimate))):,}"


class EstimatedCountPaginator(Paginator):
    """Exact below ADMIN_EXACT_COUNT_LIMIT; past it, the planner's estimate, said as "about"."""

    estimated = False

    @cached_property
    def count(self) -> int:
        estimate = planner_estimate(self.object_list) if isinstance(self.object_list, QuerySet) else None
        if estimate is None or estimate <= settings.ADMIN_EXACT_COUNT_LIMIT:
            return super().count
        self.estimated = True
        return estimate

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if not isinstance(rows, QuerySet) or bottom < DEFERRED_OFFSET:
            return self._get_page(rows[bottom:top], number, self)
        ids = self.page_ids(rows, bottom, top)
        # The same order (it ends with the primary key), over the page's rows only.
        return self._get_page(rows.filter(pk__in=ids), number, self)

    def page_ids(self, rows: QuerySet, bottom: int, top: int) -> list:
        """The primary keys of rows `bottom` to `top` of `rows`, in its order."""
        return list(rows.values_list("pk", flat=True)[bottom:top])

    @property
    def count_shown(self) -> str:
        """The count as staff read it: "1,234", or "about 3,000,000" (two significant digits)."""
        return about(self.count) if self.estimated else f"{self.count:,}"
