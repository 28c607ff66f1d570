from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from .roles import sync_roles

    sync_roles()


class AccountsConfig(AppConfig):
    name = "ops_console.accounts"
    label = "accounts"

    def ready(self):
        # After every app's permissions exist (post_migrate runs per app; the
        # last one wins) and after test flushes, which also emit post_migrate.
        post_migrate.connect(_sync_roles, dispatch_uid="ops_console.accounts.sync_roles")

        from axes.signals import user_locked_out

        from .throttling import audit_lockout

        user_locked_out.connect(audit_lockout, dispatch_uid="ops_console.accounts.audit_lockout")
