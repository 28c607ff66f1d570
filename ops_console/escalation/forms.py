from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib.auth import get_user_model

from ops_console.monitoring.models import Service

from . import channels
from .models import SEVERITIES, WEEKDAYS, ContactMethod, EscalationLevel, ResponseRole

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def users_by_name(names):
    """Usernames -> users in the same order; a ValidationError names the unknown ones."""
    found = {u.username: u for u in get_user_model().objects.filter(username__in=names, is_active=True)}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise forms.ValidationError(f"No active user named {', '.join(unknown)}.")
    return [found[name] for name in names]


class RotationForm(forms.Form):
    members = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                              help_text="Usernames in order, one per line: each holds the role for a week")
    handover_weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, label="Hand-over day")
    handover_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                    label="Hand-over time")
    timezone = forms.CharField(max_length=64, initial="UTC", help_text="e.g. UTC, Europe/Berlin, America/New_York")
    starts_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                                help_text="The first member starts at the first hand-over on or after this day")

    def clean_members(self):
        names = [n.strip() for n in self.cleaned_data["members"].replace(",", "\n").splitlines() if n.strip()]
        return users_by_name(names)

    def clean_timezone(self):
        name = self.cleaned_data["timezone"].strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"“{name}” is not a time zone name (try Europe/Berlin or UTC).") from None
        return name


class OverrideForm(forms.Form):
    username = forms.CharField(label="Who", max_length=150)
    starts_at = forms.DateTimeField(widget=DATETIME, label="From (UTC)")
    ends_at = forms.DateTimeField(widget=DATETIME, label="Until (UTC)")
    reason = forms.CharField(max_length=200, required=False)

    def clean_username(self):
        return users_by_name([self.cleaned_data["username"].strip()])[0]

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise forms.ValidationError("An override must end after it starts.")
        return data


class PolicyForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class LevelForm(forms.Form):
    delay_minutes = forms.IntegerField(min_value=0, max_value=60 * 24 * 7, label="After (minutes)")
    role = forms.ModelChoiceField(queryset=ResponseRole.objects.all())
    stop_on = forms.ChoiceField(choices=EscalationLevel.STOP_CHOICES, label="Stops on")
    repeat_every_minutes = forms.IntegerField(min_value=1, max_value=60 * 24, required=False,
                                              label="Repeat every (minutes)")


LevelFormSet = forms.formset_factory(LevelForm, extra=1, can_delete=True, max_num=20, validate_max=True)


class NewPolicyForm(forms.Form):
    severity = forms.ChoiceField(choices=SEVERITIES)
    service = forms.ModelChoiceField(queryset=Service.objects.all())
    name = forms.CharField(max_length=200)


class WindowForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.all())
    starts_at = forms.DateTimeField(widget=DATETIME, label="Starts (UTC)")
    ends_at = forms.DateTimeField(widget=DATETIME, label="Ends (UTC)")
    reason = forms.CharField(max_length=300)

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise forms.ValidationError("A maintenance window must end after it starts.")
        return data


class RecurringWindowForm(forms.Form):
    """A maintenance window that repeats: maintenance.do_create_recurring_window checks the rest."""

    service = forms.ModelChoiceField(queryset=Service.objects.all())
    cron = forms.CharField(max_length=100, label="Repeats (cron)", initial="0 2 * * 0",
                           help_text="Five fields: minute hour day-of-month month day-of-week; 0 2 * * 0 is Sundays "
                                     "at 02:00")
    duration_minutes = forms.IntegerField(min_value=1, max_value=7 * 24 * 60, initial=120,
                                          label="Each time for (minutes)")
    time_zone = forms.CharField(max_length=64, initial="UTC", help_text="IANA name, e.g. Europe/Berlin")
    starts_at = forms.DateTimeField(widget=DATETIME, label="From (UTC)", required=False,
                                    help_text="Blank: from now")
    ends_at = forms.DateTimeField(widget=DATETIME, label="Until (UTC)", required=False,
                                  help_text="Blank: until someone stops it")
    reason = forms.CharField(max_length=300)


class ContactMethodForm(forms.ModelForm):
    """A contact method: an Apprise URL, checked by Apprise when saved."""

    class Meta:
        model = ContactMethod
        fields = ["url", "label", "delay_minutes"]
        widgets = {"url": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"})}
        labels = {"delay_minutes": "After (minutes)"}

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if (why := channels.problem(url)) is not None:
            raise forms.ValidationError(why)
        return url


class ContactRuleForm(forms.Form):
    """Changing an existing method's rule: when after the page, on or off (its URL is not shown again)."""

    delay_minutes = forms.IntegerField(min_value=0, max_value=24 * 60, label="After (minutes)")
    enabled = forms.BooleanField(required=False)
