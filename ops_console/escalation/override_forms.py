"""Forms for taking, giving and swapping shifts. Times are typed in the
viewer's zone (a hidden `tz` field the calendar fills in) and stored in UTC."""
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from .forms import users_by_name

LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def zone_named(name, default="UTC"):
    """The ZoneInfo for an IANA name, or the default for an empty or unknown one."""
    try:
        return ZoneInfo((name or "").strip() or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


class OverrideForm(forms.Form):
    """Someone (yourself unless you may choose) holds the role over a range of time."""

    username = forms.CharField(label="Who", max_length=150, required=False,
                               help_text="Empty: you")
    starts_at = forms.DateTimeField(widget=LOCAL, label="From")
    ends_at = forms.DateTimeField(widget=LOCAL, label="Until")
    reason = forms.CharField(max_length=200, required=False)
    tz = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean_username(self):
        name = self.cleaned_data["username"].strip()
        if not name or (self.actor is not None and name == self.actor.get_username()):
            return self.actor
        return users_by_name([name])[0]

    def clean(self):
        data = super().clean()
        zone = zone_named(data.get("tz"))
        for key in ("starts_at", "ends_at"):
            if isinstance(data.get(key), datetime):
                # The field read the wall-clock time in the server's zone; it was typed in the viewer's.
                data[key] = data[key].replace(tzinfo=None).replace(tzinfo=zone)
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise forms.ValidationError("An override must end after it starts.")
        if data.get("username") is None and "username" not in self.errors:
            raise forms.ValidationError("Say who holds the role.")
        return data


class RangeForm(forms.Form):
    """A stretch of time named exactly (the calendar's hidden fields, UTC ISO)."""

    start = forms.DateTimeField()
    end = forms.DateTimeField()
    reason = forms.CharField(max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError("A shift must end after it starts.")
        return data
