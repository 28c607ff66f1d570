"""The period filter (two dates, UTC) that the audit log, the incident history and the reports share."""
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
