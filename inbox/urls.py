from django.urls import path

from inbox import views

urlpatterns = [
    path("conversations", views.ConversationsView.as_view(), name="inbox-conversations"),
    path("conversations/<str:client_id>", views.ConversationView.as_view(), name="inbox-conversation"),
    path("conversations/<str:client_id>/read", views.ConversationReadView.as_view(), name="inbox-conversation-read"),
]
