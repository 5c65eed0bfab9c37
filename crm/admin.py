from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from whatsapp.stats import dashboard


class CRMAdminSite(admin.AdminSite):
    site_header = "WhatsApp CRM"
    site_title = "WhatsApp CRM"
    index_title = "Today"
    # The admin is the whole site (`/` leads here): no "View site" link going round in a circle.
    site_url = None
    # Six models, all on the index: at 1366 px the sidebar took the width the message list's text needs.
    enable_nav_sidebar = False

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        """The numbers staff look for first, above the usual list of models."""
        return super().index(request, {"dashboard": dashboard(), **(extra_context or {})})

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Staff land in the inbox (the conversations), unless they were going somewhere else than
        the index (where /admin/ sends them)."""
        going = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
        if going in ("", reverse("admin:index", current_app=self.name)):
            extra_context = {
                REDIRECT_FIELD_NAME: reverse("admin:inbox_conversation_changelist"),
                **(extra_context or {}),
            }
        return super().login(request, extra_context)
