"""Severities are edited in the Django admin (definitions and targets),
audited like every other change; everything else about incidents goes
through the console's own pages and actions."""
from django.contrib import admin
from django.forms.models import model_to_dict

from ops_console.audit import log as audit
from ops_console.audit.log import record

from .models import Severity


@admin.register(Severity)
class SeverityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "ack_target", "update_cadence", "resolution_target", "pages")
    ordering = ("rank",)

    def save_model(self, request, obj, form, change):
        before = model_to_dict(Severity.objects.get(pk=obj.pk)) if change else None
        with audit.atomic():
            super().save_model(request, obj, form, change)
            record("severity.changed" if change else "severity.created", obj=obj, actor=request.user,
                   before=before, after=model_to_dict(obj))

    def has_delete_permission(self, request, obj=None):
        return False  # incidents, routing and escalation policies refer to them
