"""Who may use each JSON API endpoint (README, "Who may do what").

Its own module: DRF imports the default permission classes while rest_framework.views is still
loading, so nothing here may import that module at run time.
"""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView


class HasRequiredPermission(BasePermission):
    """The Django permission the view names in `required_permission` ("app.codename"). Superusers
    have every one; anyone else (staff or an API-only user) only what an admin granted them, directly
    or through a group. A view that names none is refused: forgetting cannot open an endpoint."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        needed = getattr(view, "required_permission", None)
        self.message = (
            f"You need the permission {needed}: an administrator grants it in the admin (Users, Permissions)."
            if needed
            else "This endpoint names no permission, so nobody may use it."
        )
        return bool(needed and request.user and request.user.has_perm(needed))
