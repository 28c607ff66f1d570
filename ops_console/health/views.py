import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from ops_console.ui.access import public

from . import checks
from .metrics import exposition


@public
@require_GET
def healthz(request):
    """The process is alive (no dependency is consulted)."""
    return JsonResponse({"status": "ok"})


@public
@require_GET
def readyz(request):
    results, healthy = checks.run_checks()
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": results},
                        status=200 if healthy else 503)


@public
@require_GET
def metrics(request):
    if settings.METRICS_TOKEN:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given, settings.METRICS_TOKEN):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
