from django.shortcuts import render

from ops_console.accounts.access import require

from .models import AuditEntry


@require("audit.view_auditentry")
def index(request):
    entries = AuditEntry.objects.select_related("actor")[:100]
    return render(request, "audit/index.html", {"entries": entries})
