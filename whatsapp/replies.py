"""Canned replies: `/shortcut` in the reply box offers the matching quick replies and inserts the chosen
one's text, its placeholders filled in for this client and this member of staff (the server renders
them: whatsapp.placeholders).

Who may do what, in one place: everyone who may send uses the shared replies and their own personal
ones; a personal reply is its owner's alone (Django's add/change/delete permissions of canned
replies); a shared one is edited only with `manage_shared_replies` as well.
"""

from django import forms
from django.db.models import Q, QuerySet

from accounts.models import User
from clients.models import Client
from whatsapp.models import CannedReply
from whatsapp.placeholders import PLACEHOLDERS, PlaceholderError, placeholders_check, placeholders_render

SHARED_PERMISSION = "whatsapp.manage_shared_replies"


def agent_name(user: User) -> str:
    return user.name or user.email


def client_name(client: Client) -> str:
    return client.name or client.phone or client.whatsapp_id or ""


def replies_visible(*, user: User) -> QuerySet[CannedReply]:
    """The replies `user` sees: the shared ones and their own (a superuser: everyone's)."""
    replies = CannedReply.objects.select_related("owner")
    return replies if user.is_superuser else replies.filter(Q(owner=None) | Q(owner=user))


def reply_may_edit(*, user: User, reply: CannedReply) -> bool:
    """Beyond Django's model permission: a shared reply needs SHARED_PERMISSION, a personal one is its owner's."""
    if reply.shared:
        return user.has_perm(SHARED_PERMISSION)
    return reply.owner_id == user.pk or user.is_superuser


def reply_render(*, reply: CannedReply, client: Client, user: User) -> str:
    """The reply's text for this client, sent by `user`; PlaceholderError names a wrong placeholder."""
    return placeholders_render(reply.text, {"client_name": client_name(client), "agent_name": agent_name(user)})


def replies_offered(*, user: User, client: Client) -> list[dict[str, str]]:
    """What the reply box offers: each visible reply rendered, or why it cannot be (never a 500)."""
    offered = []
    # Shared and own only, even for a superuser: the box offers what is theirs to use.
    for reply in CannedReply.objects.filter(Q(owner=None) | Q(owner=user)).order_by("shortcut", "owner_id"):
        entry = {"shortcut": reply.shortcut, "shared": reply.shared, "text": "", "error": ""}
        try:
            entry["text"] = reply_render(reply=reply, client=client, user=user)
        except PlaceholderError as error:
            entry["error"] = f"/{reply.shortcut}: {error}"
        offered.append(entry)
    return offered


class CannedReplyForm(forms.ModelForm):
    """A reply as staff write it: personal unless `shared` is ticked (offered only with SHARED_PERMISSION)."""

    shared = forms.BooleanField(required=False, help_text="Everyone can use it; only staff allowed to share edit it.")
    user: User  # set by the admin (CannedReplyAdmin.get_form)

    class Meta:
        model = CannedReply
        fields = ["shortcut", "text"]
        help_texts = {"text": "Placeholders: " + "; ".join(f"{{{k}}} {v}" for k, v in PLACEHOLDERS.items()) + "."}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not self.user.has_perm(SHARED_PERMISSION):
            del self.fields["shared"]  # a reply stays as it is: personal, or shared by someone allowed
        else:
            self.fields["shared"].initial = self.instance.pk is not None and self.instance.shared

    def clean_shortcut(self) -> str:
        return self.cleaned_data["shortcut"].lower()

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        try:
            placeholders_check(text)
        except PlaceholderError as error:
            raise forms.ValidationError(str(error)) from None
        return text

    def clean(self) -> dict:
        data = super().clean()
        shared = data.get("shared", self.instance.pk is not None and self.instance.shared)
        if shared and not self.user.has_perm(SHARED_PERMISSION):
            raise forms.ValidationError("Sharing a reply needs the permission “Can manage shared canned replies”.")
        owner = None if shared else (self.instance.owner if self.instance.owner_id else self.user)
        self.instance.owner = owner
        shortcut = data.get("shortcut")
        if shortcut:
            same = CannedReply.objects.filter(owner=owner, shortcut=shortcut).exclude(pk=self.instance.pk)
            if same.exists():
                whose = "A shared reply" if owner is None else "One of your replies"
                self.add_error("shortcut", f"{whose} already has the shortcut /{shortcut}.")
        return data
