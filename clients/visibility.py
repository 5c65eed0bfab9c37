"""Which clients a user may see and answer: the rules other apps declare (the inbox's roles), one
place that the JSON API outside the admin applies (the admin's lists apply the same rule through
their querysets). `clients` declares the extension point and imports nothing of those apps."""

from collections.abc import Callable
from typing import Any

from django.db.models import Q

RULES: list[Callable[[Any], Q]] = []


def client_rule(rule: Callable[[Any], Q]) -> Callable[[Any], Q]:
    """Declare a rule: a user → a condition on Client that user's clients meet."""
    RULES.append(rule)
    return rule


def clients_visible(*, user: Any) -> Q:
    condition = Q()
    for rule in RULES:
        condition &= rule(user)
    return condition
