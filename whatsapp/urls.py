from django.urls import path

from whatsapp import views

urlpatterns = [
    path("webhook", views.webhook, name="webhook"),
    path("stats", views.StatsView.as_view(), name="stats"),
    path("messages", views.MessagesView.as_view(), name="messages"),
]
