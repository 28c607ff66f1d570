"""Admin pages for alert intake: API tokens, routing rules, and the raw
payloads kept for inspection."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ops_console.ui.access import check, require

from . import alert_queue
from .forms import MappingFormSet, RoutingForm, TokenForm
from .intake_config import do_create_token, do_revoke_token, do_update_routing
from .models import AlertRouting, ApiToken, WebhookPayload

PAYLOAD_PAGE_SIZE = 50


@never_cache  # a new token is on this page once: no browser or proxy may keep a copy
@require("incidents.view_apitoken")
def tokens(request):
    """Auditors see the list; only admins (incidents.manage_apitoken) make tokens."""
    if request.method == "POST":
        check(request.user, "incidents.manage_apitoken")
    form = TokenForm(request.POST or None)
    new_raw = None
    if request.method == "POST" and form.is_valid():
        try:
            token, new_raw = do_create_token(form.cleaned_data["name"], acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created the token “{token.name}”. Copy it now: it is not shown again.")
            form = TokenForm()
    return render(request, "incidents/tokens.html", {
        "form": form, "new_raw": new_raw, "tokens": ApiToken.objects.select_related("created_by")})


@require_POST
@require("incidents.manage_apitoken")
def revoke_token(request, pk):
    token = get_object_or_404(ApiToken, pk=pk)
    try:
        do_revoke_token(token, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Revoked the token “{token.name}”.")
    return redirect("incidents:tokens")


@require("incidents.view_alertrouting")
def routing(request):
    current = AlertRouting.current()
    data = request.POST if request.method == "POST" else None
    form, formset = RoutingForm(data, instance=current), MappingFormSet(data, instance=current)
    if request.method == "POST":
        check(request.user, "incidents.manage_routing")
        if form.is_valid() and formset.is_valid():
            do_update_routing(form, formset, acting_user=request.user)
            messages.success(request, "Alert routing saved.")
            return redirect("incidents:routing")
    return render(request, "incidents/routing.html", {"form": form, "formset": formset,
                                                      "can_edit": request.user.has_perm("incidents.manage_routing")})


@require("incidents.view_webhookpayload")
def payloads(request):
    rows = WebhookPayload.objects.defer("body").select_related("token")
    outcome = request.GET.get("outcome")
    if outcome in WebhookPayload.Outcome.values:
        rows = rows.filter(outcome=outcome)
    page = Paginator(rows, PAYLOAD_PAGE_SIZE).get_page(request.GET.get("page"))
    queued, oldest = alert_queue.backlog()
    return render(request, "incidents/payloads.html", {
        "page": page, "outcomes": WebhookPayload.Outcome.choices, "outcome": outcome,
        "queued": queued, "oldest_queued_seconds": oldest})


@require("incidents.view_webhookpayload")
def payload(request, pk):
    return render(request, "incidents/payload.html", {
        "payload": get_object_or_404(WebhookPayload, pk=pk),
        "can_apply_again": request.user.has_perm("incidents.manage_routing")})


@require("incidents.manage_routing")
@require_POST
def apply_again(request, pk):
    payload = get_object_or_404(WebhookPayload, pk=pk)
    try:
        alert_queue.do_apply_again(payload, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"Payload {payload.pk} is queued again; a worker applies it in a few seconds.")
    return redirect("incidents:payload", pk=payload.pk)
