"""Placeholder index until the incidents pages land."""
from django.shortcuts import render

from ops_console.accounts.access import require


@require()
def index(request):
    return render(request, "ui/placeholder.html", {"title": "incidents".capitalize()})
