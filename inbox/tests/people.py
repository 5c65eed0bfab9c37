"""What the inbox's tests make: a client's message as Green API posts it, staff in a role, and how
they are seen (a conversation, the inbox page, an API client with a token)."""

import copy
import itertools

from django.contrib.auth.models import Group
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from conftest import payload
from inbox.models import Conversation
from inbox.roles import roles_ensure

NUMBER = "79001234567"


_clock = itertools.count(int(timezone.now().timestamp()) - 3600, 5)


def incoming(id_message: str, text: str = "Здравствуйте", number: str = NUMBER) -> dict:
    """A client's text message, each one later than the one before (WhatsApp's time)."""
    body = copy.deepcopy(payload("incomingMessageReceived.textMessage.json"))
    body["idMessage"] = id_message
    body["timestamp"] = next(_clock)
    body["senderData"]["chatId"] = body["senderData"]["sender"] = f"{number}@c.us"
    body["messageData"]["textMessageData"]["textMessage"] = text
    return body


def staff(email: str, role: str) -> User:
    user = User.objects.create_user(email=email, password="a-long-staff-password", is_staff=True)
    roles_ensure()  # the migration's groups, again after a transactional test's flush
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def conversation_of(number: str = NUMBER) -> Conversation:
    return Conversation.objects.select_related("client").get(client__whatsapp_id=number)


def inbox(http: HttpClient, **query: str):
    return http.get(reverse("admin:inbox_conversation_changelist"), query)


def token_for(http: HttpClient, email: str) -> HttpClient:
    answer = http.post(
        "/auth/login", {"email": email, "password": "a-long-staff-password"}, content_type="application/json"
    )
    http.defaults["HTTP_AUTHORIZATION"] = f"Bearer {answer.json()['accessToken']}"
    return http
