"""Forms for the incident pages and the admin pages for tokens and routing."""
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from ops_console.monitoring.models import Service

from .models import AlertRouting, Severity, SeverityMapping, Status


def commander_choices():
    """People who may command an incident: commanders and admins."""
    return get_user_model().objects.filter(
        Q(groups__name__in=["commander", "admin"]) | Q(is_superuser=True), is_active=True).distinct().order_by(
        "username")


class OpenIncidentForm(forms.Form):
    title = forms.CharField(max_length=300)
    severity = forms.ModelChoiceField(Severity.objects.all(), empty_label=None)
    services = forms.ModelMultipleChoiceField(Service.objects.all(), required=False)
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                              help_text="What is happening, as far as we know")
    impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                             help_text="Who is affected and how")
    commander = forms.ModelChoiceField(commander_choices(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["commander"].queryset = commander_choices()
        if not self.is_bound and not self.initial.get("severity"):
            self.initial["severity"] = Severity.objects.filter(code="P2").first()


class DetailsForm(forms.Form):
    title = forms.CharField(max_length=300)
    services = forms.ModelMultipleChoiceField(Service.objects.all(), required=False)
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)


class SeverityForm(forms.Form):
    severity = forms.ModelChoiceField(Severity.objects.all(), empty_label=None)
    reason = forms.CharField(max_length=500, required=False)


class CommanderForm(forms.Form):
    commander = forms.ModelChoiceField(commander_choices(), required=False, empty_label="— nobody —")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["commander"].queryset = commander_choices()


class ResponderForm(forms.Form):
    responder = forms.ModelChoiceField(get_user_model().objects.none(), empty_label="— choose —")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["responder"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")


# A note is read by people on the incident page; a longer text belongs in a postmortem or a link.
NOTE_MAX_CHARS = 10_000


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Note (Markdown)", max_length=NOTE_MAX_CHARS)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who uses it, e.g. alertmanager-prod")


class RoutingForm(forms.ModelForm):
    class Meta:
        model = AlertRouting
        fields = ["severity_label", "default_severity", "dedup_labels", "auto_resolve"]


class MappingForm(forms.ModelForm):
    class Meta:
        model = SeverityMapping
        fields = ["value", "severity"]


MappingFormSet = forms.inlineformset_factory(AlertRouting, SeverityMapping, form=MappingForm, extra=2,
                                             can_delete=True)
