"""One's own contact methods (Apprise URLs, each with its delay after a page,
in one's order) and the incident page's live list of pages and deliveries.
Views parse, check permission, call actions.py; a URL is never shown again
once saved, only masked."""
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from ops_console.incidents.models import Incident
from ops_console.ui.access import require

from . import actions
from .forms import ContactMethodForm, ContactRuleForm
from .models import ContactMethod, Delivery
from .notify import UNFINISHED


def _contact_page(request, form, status=200):
    methods = ContactMethod.objects.filter(user=request.user).order_by("position", "pk")
    return render(request, "escalation/contact_methods.html", {
        "methods": [(m, ContactRuleForm(initial={"delay_minutes": m.delay_minutes, "enabled": m.enabled},
                                        prefix=f"m{m.pk}")) for m in methods],
        "form": form}, status=status)


@require("escalation.view_contactmethod")
def contact_methods(request):
    return _contact_page(request, ContactMethodForm())


@require_POST
@require("escalation.add_contactmethod")
def add_contact_method(request):
    form = ContactMethodForm(request.POST)
    if not form.is_valid():
        return _contact_page(request, form, status=400)
    method = actions.do_add_contact_method(request.user, acting_user=request.user, **form.cleaned_data)
    messages.success(request, f"Added {method.masked_url}: pages reach you there "
                              f"{'at once' if not method.delay_minutes else f'{method.delay_minutes} min after'}.")
    return redirect("escalation:contact_methods")


def _own(request, pk):
    return get_object_or_404(ContactMethod, pk=pk, user=request.user)


@require_POST
@require("escalation.change_contactmethod")
def change_contact_method(request, pk):
    method = _own(request, pk)
    form = ContactRuleForm(request.POST, prefix=f"m{method.pk}")
    if not form.is_valid():
        messages.error(request, "After (minutes): a whole number from 0 to 1440.")
    else:
        actions.do_change_contact_method(method, acting_user=request.user, **form.cleaned_data)
        messages.success(request, "Saved.")
    return redirect("escalation:contact_methods")


@require_POST
@require("escalation.change_contactmethod")
def move_contact_method(request, pk):
    actions.do_move_contact_method(_own(request, pk), up=request.POST.get("direction") != "down",
                                   acting_user=request.user)
    return redirect("escalation:contact_methods")


@require_POST
@require("escalation.delete_contactmethod")
def delete_contact_method(request, pk):
    actions.do_delete_contact_method(_own(request, pk), acting_user=request.user)
    messages.success(request, "Contact method removed.")
    return redirect("escalation:contact_methods")


@require("incidents.view_incident")
def incident_deliveries(request, reference):
    """The incident page's pages and deliveries, polled every 2 s: a failed
    attempt shows within seconds. Polling stops once the incident is over and
    nothing is left to send."""
    incident = Incident.objects.by_reference(reference).select_related("severity").first()
    if incident is None:
        raise Http404
    content = render_to_string("escalation/partials/deliveries.html", {"incident": incident}, request)
    settled = not incident.is_open and not Delivery.objects.filter(page__incident=incident,
                                                                   status__in=UNFINISHED).exists()
    return HttpResponseStopPolling(content) if settled else HttpResponse(content)
