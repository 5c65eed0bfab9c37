from django import template
from django.http import HttpRequest
from django.urls import reverse

from inbox.services import inbox_counts

register = template.Library()


@register.inclusion_tag("admin/inbox/header.html", takes_context=True)
def inbox_header(context: template.Context) -> dict:
    """The header's link to the inbox with its counts, for staff who may read it."""
    request: HttpRequest | None = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff or not user.has_perm("inbox.view_conversation"):
        return {"shown": False}
    if not hasattr(request, "inbox_counts"):  # once per page: the inbox's tabs show them too
        request.inbox_counts = inbox_counts(user=user)
    return {"shown": True, "counts": request.inbox_counts, "url": reverse("admin:inbox_conversation_changelist")}
