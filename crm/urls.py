from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm import views

# A refused Host gets an answer that names the setting to change (crm/views.py).
handler400 = "crm.views.bad_request"

urlpatterns = [
    # Staff work in the admin; `/` is where a browser starts.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path("auth/", include("accounts.urls")),
    path("whatsapp/", include("whatsapp.urls")),
    path("inbox/", include("inbox.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
