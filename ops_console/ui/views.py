from django.shortcuts import render

# The home page reads pages and incidents, which sit above ui: it is escalation/home_views.py.


def forbidden(request, exception=None):
    needed = ", ".join(exception.args) if exception is not None and exception.args else ""
    template = "ui/partials/forbidden.html" if getattr(request, "htmx", False) else "ui/403.html"
    return render(request, template, {"needed": needed}, status=403)
