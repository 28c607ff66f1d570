"""A rotation as a calendar (week or month, in the viewer's zone), and the
self-service overrides on it: take a shift, swap one, add or remove an
override. Views parse and render; who may do what is overrides.py's."""
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from ops_console.ui.access import require

from . import overrides
from .forms import users_by_name
from .models import ResponseRole, Rotation, RotationOverride
from .override_forms import OverrideForm, RangeForm, zone_named
from .shift_calendar import (Segment, days, month_grid, schedule_between, segments, upcoming_shifts,
                             week_start)

ZONE_COOKIE = "tz"
SWAP_WEEKS = 8


def viewer_zone(request):
    """?tz= (what the calendar's script sends), else the cookie it leaves, else UTC."""
    return zone_named(request.GET.get("tz") or request.POST.get("tz") or request.COOKIES.get(ZONE_COOKIE))


def _error_text(exc):
    return " ".join(exc.messages) if hasattr(exc, "messages") else str(exc)


def _rotation(role_slug):
    role = get_object_or_404(ResponseRole, slug=role_slug)
    return role, get_object_or_404(Rotation.objects.select_related("role"), role=role)


def _calendar_url(role_slug, request=None):
    url = reverse("escalation:rotation_calendar", args=[role_slug])
    back = request.POST.get("next") if request is not None else None
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                require_https=request.is_secure()):
        return back
    return url


def _day(value, zone):
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return timezone.now().astimezone(zone).date()


def _mark(segment, actor, now, can_take, for_others):
    """What the viewer may do with one stretch of the calendar."""
    segment.mine = segment.user is not None and segment.user.pk == actor.pk
    segment.past = segment.ends_at <= now
    segment.can_take = can_take and not segment.mine and not segment.past and segment.override is None
    segment.can_swap = segment.can_take and segment.user is not None
    segment.can_delete = segment.override is not None and not segment.past and (
        for_others or (segment.mine and actor.has_perm(overrides.SELF_DELETE)))
    return segment


def _calendar_page(request, role, rotation, form=None, status=200):
    zone = viewer_zone(request)
    view = "month" if request.GET.get("view") == "month" else "week"
    day = _day(request.GET.get("date"), zone)
    actor, now = request.user, timezone.now()
    if view == "week":
        first = week_start(day)
        weeks = [days(rotation, first, 7, zone)]
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
    else:
        weeks = month_grid(rotation, day, zone)
        first = day.replace(day=1)
        previous, following = (first - timedelta(days=1)).replace(day=1), (first + timedelta(days=32)).replace(day=1)
    can_take, for_others = overrides.may_take_shifts(actor, rotation), overrides.may_override_for_others(actor)
    for week in weeks:
        for d in week:
            for s in d.segments:
                _mark(s, actor, now, can_take, for_others)
    upcoming = [_mark(o, actor, now, can_take, for_others) for o in
                _override_segments(rotation.overrides.filter(ends_at__gt=now).select_related("user"))]
    form = form or OverrideForm(actor=actor, initial={"tz": zone.key})
    return render(request, "escalation/rotation_calendar.html", {
        "role": role, "rotation": rotation, "view": view, "weeks": weeks, "day": day, "first": first,
        "previous": previous, "following": following, "today": timezone.now().astimezone(zone).date(),
        "zone": zone.key, "form": form, "overrides": upcoming, "can_take": can_take, "for_others": for_others,
        "members": [m.user for m in rotation.members.select_related("user")],
        "current": schedule_between(rotation, now, now + timedelta(seconds=1)).shift(now)}, status=status)


def _override_segments(rows):
    return [Segment(o.user, o.starts_at, o.ends_at, o) for o in rows]


@require("escalation.view_rotation")
def calendar(request, role):
    role, rotation = _rotation(role)
    response = _calendar_page(request, role, rotation)
    if request.GET.get("tz"):
        response.set_cookie(ZONE_COOKIE, viewer_zone(request).key, max_age=365 * 86400, samesite="Lax",
                            secure=request.is_secure())
    return response


@require_POST
@require("escalation.add_rotationoverride")
def add_override(request, role):
    role_obj = get_object_or_404(ResponseRole, slug=role)
    rotation = Rotation.objects.filter(role=role_obj).first()
    if rotation is None:
        messages.error(request, "Save the rotation first: an override replaces someone in it.")
        return redirect("escalation:rotation", role=role_obj.slug)
    form = OverrideForm(request.POST, actor=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            overrides.do_create_override(request.user, rotation, data["username"], data["starts_at"],
                                         data["ends_at"], reason=data["reason"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            zone = zone_named(data.get("tz"))
            messages.success(request, f"{data['username'].get_username()} holds {role_obj} from "
                                      f"{data['starts_at'].astimezone(zone):%Y-%m-%d %H:%M} until "
                                      f"{data['ends_at'].astimezone(zone):%Y-%m-%d %H:%M} ({zone.key}).")
            return redirect(_calendar_url(role_obj.slug, request))
    return _calendar_page(request, role_obj, rotation, form=form, status=400)


@require_POST
@require("escalation.add_rotationoverride")
def take_shift(request, role):
    """Take a stretch of someone else's shift (the calendar's "Take" button)."""
    role, rotation = _rotation(role)
    form = RangeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That shift could not be read: " + " ".join(
            e for errors in form.errors.values() for e in errors))
        return redirect(_calendar_url(role.slug, request))
    start = max(form.cleaned_data["start"], timezone.now().replace(second=0, microsecond=0))
    try:
        overrides.do_create_override(request.user, rotation, request.user, start, form.cleaned_data["end"],
                                     reason=form.cleaned_data["reason"] or "took the shift")
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"You hold {role} from {start:%Y-%m-%d %H:%M} UTC.")
    return redirect(_calendar_url(role.slug, request))


def _swap_context(request, role, rotation, theirs, me):
    now = timezone.now()
    stretch = segments(schedule_between(rotation, theirs[0], theirs[1]), theirs[0], theirs[1])
    holders = {s.user.pk if s.user else None for s in stretch}
    other = stretch[0].user if stretch and len(holders) == 1 else None
    mine = [s for s in upcoming_shifts(rotation, me, now, weeks=SWAP_WEEKS) if s.override is None]
    for s in mine:
        s.choice = _choice(s)
    return {"role": role, "rotation": rotation, "start": theirs[0], "end": theirs[1], "other": other, "me": me,
            "mine": mine, "zone": viewer_zone(request).key,
            "for_others": overrides.may_override_for_others(request.user),
            "members": [m.user for m in rotation.members.select_related("user")]}


def _choice(segment):
    # Named by its end: a shift already under way starts "now", which moves between the form and the post.
    return segment.ends_at.isoformat()


@require_http_methods(["GET", "POST"])
@require("escalation.add_rotationoverride")
def swap(request, role):
    """Swap shifts: the other person takes one of yours, you take theirs."""
    role, rotation = _rotation(role)
    data = request.POST if request.method == "POST" else request.GET
    form = RangeForm(data)
    if not form.is_valid():
        messages.error(request, "Choose a shift on the calendar to swap.")
        return redirect(_calendar_url(role.slug))
    me = request.user
    if data.get("for") and overrides.may_override_for_others(request.user):
        try:
            me = users_by_name([data["for"].strip()])[0]
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
            return redirect(_calendar_url(role.slug))
    theirs = (form.cleaned_data["start"], form.cleaned_data["end"])
    context = _swap_context(request, role, rotation, theirs, me)
    if context["other"] is None or context["other"].pk == me.pk:
        messages.error(request, "A swap takes one person's shift: choose a stretch someone else holds.")
        return redirect(_calendar_url(role.slug))
    if request.method == "GET":
        return render(request, "escalation/rotation_swap.html", context)
    chosen = {_choice(s): s for s in context["mine"]}.get(data.get("mine", ""))
    if chosen is None:
        context["error"] = "Choose one of the shifts listed to give in return."
        return render(request, "escalation/rotation_swap.html", context, status=400)
    try:
        overrides.do_swap_shifts(request.user, rotation, me, context["other"], (chosen.starts_at, chosen.ends_at),
                                 theirs, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        context["error"] = _error_text(exc)
        return render(request, "escalation/rotation_swap.html", context, status=400)
    messages.success(request, f"Swapped: {context['other'].get_username()} and {me.get_username()} trade shifts.")
    return redirect(_calendar_url(role.slug))


@require_POST
@require("escalation.delete_rotationoverride")
def delete_override(request, role, pk):
    override = get_object_or_404(RotationOverride.objects.select_related("rotation__role", "user"), pk=pk,
                                 rotation__role__slug=role)
    try:
        overrides.do_delete_override(request.user, override)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, "Override removed.")
    return redirect(_calendar_url(role, request))
