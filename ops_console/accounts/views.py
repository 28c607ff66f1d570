from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ops_console.ui.access import check, require

from .forms import ApiTokenForm, RoleForm
from .membership import do_set_role
from .models import PersonalToken
from .tokens import do_create_api_token, do_revoke_api_token
from .roles import ROLE_LABELS, role_of


@require("auth.view_user")
def users(request):
    User = get_user_model()
    page = Paginator(User.objects.order_by("username").prefetch_related("groups"), 50).get_page(request.GET.get("page"))
    rows = [(u, role_of(u)) for u in page]
    return render(request, "accounts/users.html", {"page": page, "rows": rows, "roles": ROLE_LABELS,
                                                   "can_change": request.user.has_perm("auth.change_user")})


@require_POST
@require("auth.change_user")
def set_role(request, user_id):
    target = get_object_or_404(get_user_model(), pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
    elif target == request.user:
        messages.error(request, "You cannot change your own role.")
    else:
        do_set_role(target, form.cleaned_data["role"], acting_user=request.user)
        messages.success(request, f"{target.username} is now {ROLE_LABELS[form.cleaned_data['role']]}.")
    return redirect("accounts:users")


@never_cache  # a new token is on this page once: no browser or proxy may keep a copy
@require("accounts.manage_own_tokens")
def api_tokens(request):
    """The signed-in person's API tokens; those who may view every token (auditors,
    admins) see everyone's below their own."""
    form = ApiTokenForm(request.POST or None)
    new_raw = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, new_raw = do_create_api_token(request.user, name=data["name"], scope=data["scope"],
                                                 expires_at=form.expires_at(), acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created the token “{token.name}”. Copy it now: it is not shown again.")
            form = ApiTokenForm()
    others = None
    if request.user.has_perm("accounts.view_personaltoken"):
        others = PersonalToken.objects.exclude(user=request.user).select_related("user")[:500]
    return render(request, "accounts/api_tokens.html", {
        "form": form, "new_raw": new_raw, "tokens": PersonalToken.objects.filter(user=request.user),
        "others": others, "can_revoke_any": request.user.has_perm("accounts.change_personaltoken")})


@require_POST
@require("accounts.manage_own_tokens")
def revoke_api_token(request, pk):
    token = get_object_or_404(PersonalToken, pk=pk)
    if token.user_id != request.user.pk:
        check(request.user, "accounts.change_personaltoken")  # the admin revokes anyone's
    try:
        do_revoke_api_token(token, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Revoked the token “{token.name}”.")
    return redirect("accounts:api_tokens")
