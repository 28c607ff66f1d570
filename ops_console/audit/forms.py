"""The audit log's filter form."""
from django import forms

from ops_console.ui.forms import PeriodForm


class AuditFilterForm(PeriodForm):
    actor = forms.CharField(required=False, max_length=150, help_text="user name")
    action = forms.CharField(required=False, max_length=100, help_text="e.g. incident. or auth.locked_out")
    object = forms.CharField(required=False, max_length=200, label="Object",
                             help_text="type, or type:id, e.g. incidents.incident:42")

    def filter(self, queryset):
        """The entries the form selects; nothing when it is invalid (the errors say why)."""
        if not self.is_valid():
            return queryset.none()
        data = self.cleaned_data
        queryset = queryset.filter(**self.period_filter("created_at"))
        if data["actor"]:
            queryset = queryset.filter(actor_name=data["actor"].strip())
        if data["action"]:
            action = data["action"].strip()
            # "incident." means every incident action; a full name means that one.
            queryset = queryset.filter(action__startswith=action) if action.endswith(".") else \
                queryset.filter(action=action)
        if data["object"]:
            object_type, _, object_id = data["object"].strip().partition(":")
            queryset = queryset.filter(object_type=object_type.strip().lower())
            if object_id.strip():
                queryset = queryset.filter(object_id=object_id.strip())
        return queryset
