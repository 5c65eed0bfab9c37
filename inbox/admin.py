"""The inbox in the admin: the conversations' list (staff's first page), each conversation as its
thread with the reply box and the client beside it; and the roles applied to the client and
message lists, their searches and exports (each admin re-registered here with the rule of
inbox.services.conversations_visible, so that `clients` and `whatsapp` need nothing of the inbox)."""

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import F, QuerySet
from django.db.models.expressions import OrderBy
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from clients.models import Client
from crm.paginator import EstimatedCountPaginator
from inbox.models import Agent, Conversation, ConversationEvent, status_is
from inbox.services import conversation_change, conversation_read, conversations_visible, inbox_counts
from whatsapp import admin_views
from whatsapp.admin import ClientConversationAdmin, MessageAdmin
from whatsapp.models import Instance, Message

LATEST_FIRST = F("client__activity__last_message_at").desc(nulls_last=True)


class TabFilter(admin.SimpleListFilter):
    title = "whose"
    parameter_name = "tab"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("mine", "Mine"), ("unassigned", "Unassigned")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        if self.value() == "mine":
            return queryset.filter(assignee=request.user)
        if self.value() == "unassigned":
            return queryset.filter(assignee__isnull=True)
        return queryset


class StatusFilter(admin.SimpleListFilter):
    """The status as staff see it: a snooze past its time is open."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Conversation.Status.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        return queryset.filter(status_is(self.value())) if self.value() in Conversation.Status.values else queryset


class UnreadFilter(admin.SimpleListFilter):
    title = "unread"
    parameter_name = "unread"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("1", "With unread messages")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        return queryset.filter(client__activity__unread_count__gt=0) if self.value() == "1" else queryset


class InstanceFilter(admin.SimpleListFilter):
    """The instances Green API told us of (a few rows), not the distinct values of every conversation."""

    title = "instance"
    parameter_name = "instance"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (str(i), str(i)) for i in Instance.objects.order_by("id_instance").values_list("id_instance", flat=True)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        value = self.value()
        return queryset.filter(instance_id=int(value)) if value and value.isdigit() else queryset


class ConversationForm(forms.ModelForm):
    note = forms.CharField(
        label="Note for the history",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why: kept with the change (a transfer's note for the colleague).",
    )

    class Meta:
        model = Conversation
        fields = ["status", "snoozed_until", "assignee"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if "assignee" in self.fields:  # not for those who may only look
            self.fields["assignee"].queryset = User.objects.filter(is_staff=True, is_active=True).order_by("email")
            self.fields["snoozed_until"].help_text = "For a snooze: when it opens again by itself."
            # The values the page was drawn with go back with the form: what the user did not touch
            # is not "changed" although a client's message changed it meanwhile (save_model).
            for name in ("status", "snoozed_until", "assignee"):
                self.fields[name].show_hidden_initial = True

    def clean(self) -> dict:
        data = super().clean()
        if data.get("status") == Conversation.Status.SNOOZED:
            until = data.get("snoozed_until")
            if until is None or until <= timezone.now():
                self.add_error("snoozed_until", "A snooze needs a time in the future.")
        return data


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """The inbox. Each row is read from the conversation and its client's stored activity columns
    (one query for the page: no count or lookup per row)."""

    form = ConversationForm
    change_list_template = "admin/inbox/conversation/change_list.html"
    change_form_template = "admin/inbox/conversation/change_form.html"
    list_display = ["who", "number", "last", "when", "unread", "shown_status", "assignee", "waiting"]
    list_display_links = ["who"]
    list_filter = [TabFilter, StatusFilter, UnreadFilter, InstanceFilter]
    list_select_related = ["client", "assignee"]
    search_fields = ["client__name", "client__whatsapp_id"]
    search_help_text = "A client's name or number."
    rows_refresh_live = True  # templates/admin/search_form.html: no count beside the box
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).filter(conversations_visible(user=request.user)).with_activity()

    def get_ordering(self, request: HttpRequest) -> list[str | OrderBy]:
        return [LATEST_FIRST]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a conversation is the client's first message (the triggers)

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False  # its history stays

    @admin.display(description="client", ordering="client__name")
    def who(self, obj: Conversation) -> str:
        return obj.client.name or obj.client.phone_display or "—"

    @admin.display(description="number")
    def number(self, obj: Conversation) -> str:
        if obj.client.is_group:
            return "WhatsApp group"
        return obj.client.phone_display or (f"{obj.client.whatsapp_lid}@lid" if obj.client.whatsapp_lid else "—")

    @admin.display(description="last message")
    def last(self, obj: Conversation) -> str:
        arrow = "→" if obj.client.activity.last_direction == "outbound" else "←"
        text = obj.client.activity.last_preview
        return f"{arrow} {text if len(text) <= 70 else text[:69] + '…'}" if text else "—"

    @admin.display(description="time", ordering=F("client__activity__last_message_at").asc(nulls_first=True))
    def when(self, obj: Conversation) -> datetime | None:
        return obj.client.activity.last_message_at

    @admin.display(description="unread", ordering="client__activity__unread_count")
    def unread(self, obj: Conversation) -> str:
        count = obj.client.activity.unread_count
        return format_html('<strong class="unread-count">{}</strong>', count) if count else ""

    @admin.display(description="status", ordering="status")
    def shown_status(self, obj: Conversation) -> str:
        shown = obj.shown_status
        if shown == Conversation.Status.SNOOZED:
            return f"snoozed until {timezone.localtime(obj.snoozed_until):%d %b %H:%M}"
        return Conversation.Status(shown).label

    @admin.display(description="waiting for our answer since", ordering="waiting_since")
    def waiting(self, obj: Conversation) -> datetime | None:
        return obj.waiting_since

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        request.inbox_counts = inbox_counts(user=request.user)  # the header's too (inbox/templatetags)
        unread = request.inbox_counts["unread"]
        context = {
            # The browser tab says how many wait (each live refresh brings its <title>, which htmx applies).
            "title": "Inbox" if unread == "0" else f"({unread}) Inbox",
            "counts": request.inbox_counts,
            "poll_seconds": settings.INBOX_POLL_SECONDS,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The thread first, the reply box under it, the client and the conversation's state beside
        it. Opening it (and each live refresh while it is open) reads the client's messages."""
        conversation = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if conversation is not None and request.method == "GET":
            client_admin = self.admin_site._registry[Client]
            context.update(admin_views.conversation(client_admin, request, str(conversation.pk)))
            context.update(
                title="Conversation",  # the tab: "<client> | Conversation", not "Change conversation"
                client=conversation.client,
                conversation=conversation,
                events=list(conversation.events.select_related("actor")[:30]),
                reply_next=request.path,
                poll_seconds=settings.INBOX_POLL_SECONDS,
                client_url=reverse("admin:clients_client_change", args=[conversation.pk]),
            )
            if self.has_change_permission(request, conversation):
                # What the form would show now, for the page's script to compare with what it shows
                # (inbox/static/inbox/conversation_live.js): prefixed, so its names and ids are its own.
                context.update(fresh_form=ConversationForm(instance=conversation, prefix="fresh"))
            if context.get("thread") is not None:
                conversation_read(conversation=conversation)
        return super().change_view(request, object_id, form_url, context)

    def save_model(self, request: HttpRequest, obj: Conversation, form: forms.ModelForm, change: bool) -> None:
        """Only what the user changed in the form: a page opened before the client's message reopened
        the conversation does not put it back to resolved by saving an assignee."""
        changed = set(form.changed_data)
        conversation_change(
            conversation=obj,
            actor=request.user,
            status=obj.status if changed & {"status", "snoozed_until"} else None,
            snoozed_until=obj.snoozed_until,
            assignee=obj.assignee if "assignee" in changed else ...,
            note=form.cleaned_data.get("note", ""),
        )

    def log_change(self, request: HttpRequest, obj: Conversation, message: object) -> None:
        pass  # the conversation's own history (ConversationEvent) keeps who changed what

    def response_change(self, request: HttpRequest, obj: Conversation) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:inbox_conversation_change", args=[obj.pk]))


@admin.register(ConversationEvent)
class ConversationEventAdmin(admin.ModelAdmin):
    list_display = ["at", "conversation", "actor", "field", "old", "new", "note"]
    list_filter = ["field", "at"]
    list_select_related = ["conversation__client", "actor"]
    readonly_fields = ["conversation", "at", "actor", "field", "old", "new", "note"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConversationEvent]:
        visible = conversations_visible(user=request.user, prefix="conversation__")
        return super().get_queryset(request).filter(visible)

    # The record of what happened: nobody writes it by hand.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ConversationEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ConversationEvent | None = None) -> bool:
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["user", "available", "last_assigned_at"]
    list_editable = ["available"]
    list_select_related = ["user"]
    fields = ["user", "available", "last_assigned_at"]
    readonly_fields = ["last_assigned_at"]
    autocomplete_fields = []


class ClientInboxAdmin(ClientConversationAdmin):
    """The client list, its search, export and each client's page: a manager's own clients only."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Client]:
        return super().get_queryset(request).filter(conversations_visible(user=request.user, prefix="conversation__"))


class MessageInboxAdmin(MessageAdmin):
    """Messages, their search and export: a manager's own conversations' only."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        visible = conversations_visible(user=request.user, prefix="client__conversation__")
        return super().get_queryset(request).filter(visible)


admin.site.unregister(Client)
admin.site.register(Client, ClientInboxAdmin)
admin.site.unregister(Message)
admin.site.register(Message, MessageInboxAdmin)
