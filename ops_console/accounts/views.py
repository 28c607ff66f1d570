from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ops_console.ui.access import require

from .forms import RoleForm
from .membership import do_set_role
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
