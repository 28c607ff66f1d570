"""Filter forms for the audit log and the incident history, and the postmortem editor."""
import datetime as dt

from django import forms


class PeriodForm(forms.Form):
    """A date range, both ends inclusive, in UTC."""

    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("“From” must not be after “To”.")
        return data

    def period_filter(self, field):
        """{field__gte, field__lt} for the chosen dates."""
        return period_lookups(field, self.cleaned_data.get("since"), self.cleaned_data.get("until"))

    def filename_part(self):
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        parts = [str(data[k]) for k in ("since", "until") if data.get(k)]
        return "_".join(parts) or "all"


def period_lookups(field, since=None, until=None):
    """Lookups selecting `field` from the start of `since` to the end of `until` (UTC)."""
    lookups = {}
    if since:
        lookups[f"{field}__gte"] = _midnight(since)
    if until:
        lookups[f"{field}__lt"] = _midnight(until + dt.timedelta(days=1))
    return lookups


def _midnight(day):
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


class AuditFilterForm(PeriodForm):
    actor = forms.CharField(required=False, max_length=150, help_text="user name")
    action = forms.CharField(required=False, max_length=100, help_text="e.g. incident. or auth.login_failed")
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
