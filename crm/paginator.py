"""The admin's lists at any size: a count that costs nothing past a few thousand rows."""

import json
import logging

from django.conf import settings
from django.core.paginator import Paginator
from django.db import DatabaseError, connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

logger = logging.getLogger(__name__)


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
    the planner's "about 230,000" (two significant digits)."""
    estimate = planner_estimate(queryset)
    if estimate is None or estimate <= settings.ADMIN_EXACT_COUNT_LIMIT:
        return f"{queryset.count():,}"
    return about(estimate)


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

    @property
    def count_shown(self) -> str:
        """The count as staff read it: "1,234", or "about 3,000,000" (two significant digits)."""
        return about(self.count) if self.estimated else f"{self.count:,}"
