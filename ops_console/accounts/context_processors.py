from .roles import ROLE_LABELS, role_of


def role(request):
    user = getattr(request, "user", None)
    name = role_of(user) if user is not None else None
    return {"user_role": name, "user_role_label": ROLE_LABELS.get(name, "")}
