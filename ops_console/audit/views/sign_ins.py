"""Failed sign-ins, as django-axes keeps them: outside the hash chain, so a flood
of bad passwords never waits on the chain's lock, and readable by auditors here."""
from axes.models import AccessFailureLog
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ops_console.ui.access import require
from ops_console.ui.paging import keyset_page, query_without_cursor

PAGE_SIZE = 50


@require_GET
@require("audit.view_auditentry")
def failed(request):
    username, address = request.GET.get("username", "").strip(), request.GET.get("ip", "").strip()
    failures = AccessFailureLog.objects.all()
    if username:
        failures = failures.filter(username=username)
    if address:
        failures = failures.filter(ip_address=address)
    page = keyset_page(failures.only("id", "attempt_time", "username", "ip_address", "user_agent", "locked_out"),
                       request.GET, size=PAGE_SIZE)
    return render(request, "audit/sign_ins.html", {"page": page, "username": username, "ip": address,
                                                   "query": query_without_cursor(request.GET)})
