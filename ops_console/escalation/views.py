"""On-call, rotations, escalation policies, maintenance windows, my pages and
the signed acknowledge link. Views parse, check permission, call actions.py."""
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ops_console.ui.access import public, require

from . import actions
from .acklink import LinkInvalid, page_for_token
from .forms import LevelFormSet, NewPolicyForm, OverrideForm, PolicyForm, RecurringWindowForm, RotationForm, WindowForm
from .maintenance import WindowInvalid, active_windows, describe, do_create_recurring_window, next_occurrence
from .models import EscalationPolicy, MaintenanceWindow, Page, ResponseRole, Rotation
from .oncall import Schedule, on_call_board


def _error_text(exc):
    return " ".join(exc.messages) if hasattr(exc, "messages") else str(exc)


# --- on call ---------------------------------------------------------------

@require("escalation.view_rotation")
def oncall(request):
    now = timezone.now()
    return render(request, "escalation/oncall.html", {"rows": on_call_board(now), "now": now})


def _rotation_page(request, role, form, override_form, status=200):
    rotation = Rotation.objects.filter(role=role).first()
    now = timezone.now()
    overrides = rotation.overrides.filter(ends_at__gt=now).select_related("user") if rotation else []
    upcoming = []
    if rotation:
        schedule, moment = Schedule(rotation), now
        for _ in range(6):  # the next few hand-overs, overrides included
            user, moment = schedule.next_change(moment)
            if moment is None:
                break
            upcoming.append((user, moment))
    return render(request, "escalation/rotation.html", {
        "role": role, "rotation": rotation, "form": form, "override_form": override_form, "overrides": overrides,
        "upcoming": upcoming, "current": Schedule(rotation).shift(now) if rotation else None}, status=status)


@require_http_methods(["GET", "POST"])
@require("escalation.change_rotation")
def rotation(request, role):
    role = get_object_or_404(ResponseRole, slug=role)
    existing = Rotation.objects.filter(role=role).first()
    if request.method == "POST":
        form = RotationForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            actions.do_save_rotation(role, handover_weekday=data["handover_weekday"],
                                     handover_time=data["handover_time"], timezone_name=data["timezone"],
                                     starts_on=data["starts_on"], members=data["members"], acting_user=request.user)
            messages.success(request, f"The {role} rotation is saved.")
            return redirect("escalation:rotation", role=role.slug)
        return _rotation_page(request, role, form, OverrideForm(), status=400)
    return _rotation_page(request, role, RotationForm(initial=_rotation_initial(existing)), OverrideForm())


def _rotation_initial(rotation):
    if rotation is None:
        return {"timezone": "UTC", "handover_weekday": 0, "handover_time": "09:00", "starts_on": timezone.now().date()}
    return {"members": "\n".join(m.user.username for m in rotation.members.select_related("user")),
            "handover_weekday": rotation.handover_weekday, "handover_time": rotation.handover_time,
            "timezone": rotation.timezone, "starts_on": rotation.starts_on}


# Overrides (add, take, swap, remove) are rotation_views.py's, with overrides.py's rules.


# --- escalation policies ---------------------------------------------------

@require("escalation.view_escalationpolicy")
def policies(request):
    rows = EscalationPolicy.objects.select_related("service").prefetch_related("levels__role")
    return render(request, "escalation/policies.html", {"policies": rows, "new_form": NewPolicyForm()})


def _levels_initial(policy):
    return [{"delay_minutes": lv.delay_minutes, "role": lv.role_id, "stop_on": lv.stop_on,
             "repeat_every_minutes": lv.repeat_every_minutes} for lv in policy.levels.all()]


@require("escalation.view_escalationpolicy")
def policy(request, pk):
    policy = get_object_or_404(EscalationPolicy.objects.select_related("service").prefetch_related("levels__role"),
                               pk=pk)
    return render(request, "escalation/policy.html", {
        "policy": policy, "form": PolicyForm(initial={"name": policy.name, "description": policy.description}),
        "formset": LevelFormSet(initial=_levels_initial(policy), prefix="levels")})


@require_POST
@require("escalation.change_escalationpolicy")
def edit_policy(request, pk):
    policy = get_object_or_404(EscalationPolicy.objects.select_related("service"), pk=pk)
    form, formset = PolicyForm(request.POST), LevelFormSet(request.POST, prefix="levels")
    if form.is_valid() and formset.is_valid():
        levels = [{k: f.cleaned_data[k] for k in ("delay_minutes", "role", "stop_on", "repeat_every_minutes")}
                  for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        levels.sort(key=lambda level: level["delay_minutes"])
        try:
            actions.do_save_policy(policy, name=form.cleaned_data["name"],
                                   description=form.cleaned_data["description"], levels=levels,
                                   acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{policy.name} saved. Open incidents keep the policy they started with.")
            return redirect("escalation:policy", pk=policy.pk)
    return render(request, "escalation/policy.html", {"policy": policy, "form": form, "formset": formset},
                  status=400)


@require_POST
@require("escalation.add_escalationpolicy")
def new_policy(request):
    form = NewPolicyForm(request.POST)
    if form.is_valid():
        try:
            created = actions.do_create_policy(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, f"{created.name} created from the {created.severity} default: adjust its levels.")
            return redirect("escalation:policy", pk=created.pk)
    else:
        messages.error(request, "Choose a severity and a service, and name the policy.")
    return redirect("escalation:policies")


# --- maintenance windows ---------------------------------------------------

def _maintenance_page(request, form, status=200, recurring_form=None):
    now = timezone.now()
    windows = MaintenanceWindow.objects.select_related("service", "created_by")
    page = Paginator(windows, 50).get_page(request.GET.get("page"))
    active = {w.pk: w for w in active_windows({w.service_id for w in page}, now)}
    for window in page:
        if window.recurring:
            window.rule, window.next_start = describe(window), next_occurrence(window, now)
        window.in_effect = active.get(window.pk)
    return render(request, "escalation/maintenance.html",
                  {"page": page, "form": form, "recurring_form": recurring_form or RecurringWindowForm(),
                   "active": active, "now": now}, status=status)


@require("escalation.view_maintenancewindow")
def maintenance(request):
    return _maintenance_page(request, WindowForm())


@require_POST
@require("escalation.add_maintenancewindow")
def new_recurring_window(request):
    form = RecurringWindowForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data["duration"] = timedelta(minutes=data.pop("duration_minutes"))
        try:
            window = do_create_recurring_window(acting_user=request.user, **data)
        except WindowInvalid as exc:
            for field, message in exc.errors.items():
                form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, f"Recurring maintenance of {window.service} scheduled: {describe(window)}.")
            return redirect("escalation:maintenance")
    return _maintenance_page(request, WindowForm(), status=400, recurring_form=form)


@require_POST
@require("escalation.add_maintenancewindow")
def new_window(request):
    form = WindowForm(request.POST)
    if not form.is_valid():
        return _maintenance_page(request, form, status=400)
    window = actions.do_create_window(acting_user=request.user, **form.cleaned_data)
    messages.success(request, f"Maintenance of {window.service} scheduled: pages for it are held back meanwhile.")
    return redirect("escalation:maintenance")


@require_POST
@require("escalation.change_maintenancewindow")
def end_window(request, pk):
    window = get_object_or_404(MaintenanceWindow, pk=pk)
    try:
        actions.do_end_window(window, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Maintenance of {window.service} ended: held pages go out now.")
    return redirect("escalation:maintenance")


# --- pages -----------------------------------------------------------------

@require("escalation.view_page")
def my_pages(request):
    pages = Page.objects.filter(user=request.user).select_related("incident__severity")
    page = Paginator(pages, 25).get_page(request.GET.get("page"))
    template = "escalation/partials/page_list.html" if request.htmx else "escalation/pages.html"
    return render(request, template, {"page": page})


@require_POST
@require("escalation.acknowledge_page")
def acknowledge_page(request, pk):
    page = get_object_or_404(Page.objects.select_related("incident"), pk=pk, user=request.user)
    messages.success(request, actions.do_acknowledge_page(page, acting_user=request.user))
    return redirect("escalation:pages")


@public
@require_http_methods(["GET", "POST"])
def acknowledge_link(request, token):
    """GET only shows what the link would do (chat link previews fetch links); POST acknowledges."""
    now = timezone.now()
    try:
        if request.method == "POST":
            done = actions.do_acknowledge_by_link(token, now=now)
            return render(request, "escalation/ack.html", {"done": done})
        page = page_for_token(token, now)
    except LinkInvalid as exc:
        return render(request, "escalation/ack.html", {"error": str(exc)}, status=410 if exc.gone else 400)
    return render(request, "escalation/ack.html", {"page": page})
