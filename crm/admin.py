from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

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
