"""The incident history's filters (the period is when the incident was detected)."""
from django import forms

from ops_console.ui.forms import PeriodForm


STATUS_CHOICES = [("", "any status"), ("open", "open (not resolved)"), ("triggered", "triggered"),
                  ("acknowledged", "acknowledged"), ("mitigated", "mitigated"), ("resolved", "resolved"),
                  ("closed", "closed")]


class IncidentFilterForm(PeriodForm):
    """The incident history's filters; the period is when the incident was detected."""

    severity = forms.ChoiceField(required=False, choices=())
    service = forms.CharField(required=False, max_length=100, help_text="service slug")
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    commander = forms.CharField(required=False, max_length=150, help_text="user name")
    q = forms.CharField(required=False, max_length=200, label="Text",
                        help_text="words in the title, summary or timeline")

    def __init__(self, *args, severities=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].choices = [("", "any severity")] + [(s, s) for s in severities]
