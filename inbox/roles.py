"""The inbox's roles as Django groups: what each holds (README, "Who may do what").

inbox/migrations/0002 creates them once with its own copy of this list (a migration never imports
a module that may change); `manage.py inbox_roles` sets them to this list again, at any time."""

from django.contrib.auth.models import Group, Permission

MANAGER = [
    "inbox.view_conversation",
    "inbox.change_conversation",
    "clients.view_client",
    "clients.change_client",
    "whatsapp.view_message",
    "whatsapp.send_message",
]
ROLES = {
    # Sees and answers the conversations assigned to them (and unassigned ones, while
    # INBOX_MANAGERS_SEE_UNASSIGNED is on).
    "Managers": MANAGER,
    # Sees and answers every conversation.
    "Supervisors": [*MANAGER, "inbox.view_all_conversations"],
}


def roles_ensure() -> dict[str, int]:
    """Each role's group with exactly its permissions (other groups untouched); how many each holds."""
    held = {}
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in (p.split(".") for p in permissions)
        ]
        group.permissions.set(wanted)
        held[name] = len(wanted)
    return held
