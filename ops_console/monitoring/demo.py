"""Demo services: the console itself (job ops-console, which the standalone
Prometheus scrapes, so its tiles and charts show real live data) and the
backend and AI Core of the source documents (002: P95 latency < 100 ms, error
rate < 1 %, availability > 99.9 %). Error rate and availability also have an
error budget over 30 days: 99 % of requests answered without a 5xx, 99.9 % of
scrapes answered (`up`); P95 latency stays a threshold. Idempotent: run on
every start."""
from django.conf import settings

from .models import SLO, Panel, Service


def http_slos(prefix):
    """The three SLOs of the documents for a service exposing <prefix>http_* metrics."""
    requests = f"{prefix}http_requests_total"
    return [
        dict(name="P95 latency", direction=SLO.BELOW, objective=0.1, warning=0.08, unit="seconds",
             query=f"histogram_quantile(0.95, sum by (le) (rate({prefix}http_request_duration_seconds_bucket"
                   "{ {{ selector }} }[5m])))"),
        dict(name="Error rate", direction=SLO.BELOW, objective=0.01, warning=0.005, unit="ratio",
             query=f'(sum(rate({requests}{{status=~"5..", {{{{ selector }}}} }}[5m])) or vector(0))'
                   f" / sum(rate({requests}{{ {{{{ selector }}}} }}[5m]))",
             # "Error rate < 1 %" as a budget: 1 % of the window's requests may fail.
             target=99.0, window_days=30, runbook="high-error-rate",
             error_query=f'(sum(rate({requests}{{status=~"5..", {{{{ selector }}}} }}[{{{{ window }}}}])) '
                         "or vector(0))",
             total_query=f"sum(rate({requests}{{ {{{{ selector }}}} }}[{{{{ window }}}}]))"),
        availability(),
    ]


def availability():
    # Every scrape is an event and a failed one (up == 0) a bad event, so a
    # minute down spends a minute of the 43 minutes a 99.9 % month allows.
    return dict(name="Availability", direction=SLO.ABOVE, objective=99.9, warning=99.95, unit="percent",
                query="avg(avg_over_time(up{ {{ selector }} }[1h])) * 100",
                target=99.9, window_days=30, runbook="service-down",
                error_query="sum(count_over_time(up{ {{ selector }} }[{{ window }}]))"
                            " - sum(sum_over_time(up{ {{ selector }} }[{{ window }}]))",
                total_query="sum(count_over_time(up{ {{ selector }} }[{{ window }}]))")


def http_panels(prefix):
    return [
        dict(title="Requests per second by status", unit="per_second", legend="status",
             query=f"sum by (status) (rate({prefix}http_requests_total{{ {{{{ selector }}}} }}[1m]))"),
        dict(title="P95 latency", unit="seconds", legend="",
             query=f"histogram_quantile(0.95, sum by (le) (rate({prefix}http_request_duration_seconds_bucket"
                   "{ {{ selector }} }[1m])))"),
        dict(title="Targets up", unit="count", legend="instance", query="up{ {{ selector }} }"),
        dict(title="Resident memory", unit="bytes", legend="instance",
             query="process_resident_memory_bytes{ {{ selector }} }"),
    ]


SERVICES = [
    dict(slug="ops-console", name="Ops Console", owner="platform", selector='job="ops-console"',
         description="This console: web requests as its own `/metrics` reports them, scraped by Prometheus "
                     "every 15 s.",
         links=[{"title": "Prometheus targets", "url": f"{settings.PROMETHEUS_URL}/targets"}],
         slos=http_slos("ops_console_"), panels=http_panels("ops_console_")),
    dict(slug="backend", name="Backend API", owner="platform", selector='job="backend"',
         description="The public API of the source documents (002): SLOs P95 latency < 100 ms, error rate < 1 %, "
                     "availability > 99.9 %; alerts HighLatency, HighErrorRate, ServiceDown, MemoryLeakSuspected.",
         links=[], slos=http_slos(""), panels=http_panels("")),
    dict(slug="ai-core", name="AI Core", owner="ai", selector='job="ai_core"',
         description="The AI processing service of the source documents (002): AIProcessingBacklog fires when "
                     "more than 50 requests are in progress for 5 minutes.",
         links=[], slos=[availability()],
         panels=[dict(title="Requests in progress", unit="count", legend="instance",
                      query="ai_core_http_requests_in_progress{ {{ selector }} }"),
                 *http_panels("")[2:]]),
]


def load(stdout):
    for spec in SERVICES:
        spec = dict(spec)
        slos, panels = spec.pop("slos"), spec.pop("panels")
        service, created = Service.objects.get_or_create(slug=spec["slug"], defaults=spec)
        if not created:
            continue  # keep what an administrator changed since
        for position, slo in enumerate(slos):
            SLO.objects.create(service=service, position=position, **slo)
        for position, panel in enumerate(panels):
            Panel.objects.create(service=service, position=position, **panel)
        stdout.write(f"  monitoring: demo service {service.slug}")
