"""Placeholder until the on-call and escalation pages land."""
from django.shortcuts import render

from ops_console.accounts.access import require


@require()
def index(request):
    return render(request, "ui/placeholder.html", {"title": "On call"})
