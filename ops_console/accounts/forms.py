from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from .models import MAX_LIFETIME, Scope
from .roles import ROLE_LABELS, ROLES


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(r, ROLE_LABELS[r]) for r in ROLES])


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. deploy-pipeline")
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.READ,
                              help_text="A read token can never change anything")
    expires_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=f"Required; at most {MAX_LIFETIME.days} days from today")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("expires_on", timezone.localdate() + timedelta(days=90))

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if day <= today:
            raise forms.ValidationError("Choose a day after today.")
        if day > today + MAX_LIFETIME:
            raise forms.ValidationError(f"At most {MAX_LIFETIME.days} days from today.")
        return day

    def expires_at(self):
        """The start of the chosen day in the console's time zone: the token works until then."""
        return timezone.make_aware(datetime.combine(self.cleaned_data["expires_on"], time.min))
