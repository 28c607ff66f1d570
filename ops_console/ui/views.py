from django.shortcuts import render

from ops_console.ui.access import require


@require()
def home(request):
    return render(request, "ui/home.html")


def forbidden(request, exception=None):
    needed = ", ".join(exception.args) if exception is not None and exception.args else ""
    template = "ui/partials/forbidden.html" if getattr(request, "htmx", False) else "ui/403.html"
    return render(request, template, {"needed": needed}, status=403)
