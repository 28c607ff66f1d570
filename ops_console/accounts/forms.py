from django import forms

from .roles import ROLE_LABELS, ROLES


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(r, ROLE_LABELS[r]) for r in ROLES])
