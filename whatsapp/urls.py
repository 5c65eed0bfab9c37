from django.urls import path

from whatsapp import media_views, views

urlpatterns = [
    path("webhook", views.webhook, name="webhook"),
    path("stats", views.StatsView.as_view(), name="stats"),
    path("messages", views.MessagesView.as_view(), name="messages"),
    path("media/<uuid:media_id>", media_views.media_file, name="media-file"),
]
