from django.contrib.admin.apps import AdminConfig


class CRMAdminConfig(AdminConfig):
    default_site = "crm.admin.CRMAdminSite"

    def ready(self) -> None:
        super().ready()
        # crm is not an app of its own: its system checks are registered with the admin's start.
        from crm import checks  # noqa: F401
