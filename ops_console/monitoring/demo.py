"""Demo services: the console itself (job ops-console, which the standalone
Prometheus scrapes, so its tiles and charts show real live data) and the
backend and AI Core of the source documents, as the runbook library defines
them (runbooks/services.yaml, the one definition of the shipped services and
their SLOs, panels and error budgets). Idempotent: run on every start; a
service that exists is left as an administrator made it."""
from django.conf import settings

from .management.commands.load_services import SHIPPED, create_service, read_services
from .models import Service

DEMO_SLUGS = ("ops-console", "backend", "ai-core")


def demo_links(slug):
    """What only this installation knows: where its own Prometheus is."""
    if slug == "ops-console":
        return [{"title": "Prometheus targets", "url": f"{settings.PROMETHEUS_URL}/targets"}]
    return []


def load(stdout, path=SHIPPED):
    entries = {entry["slug"]: entry for entry in read_services(path)}
    for slug in DEMO_SLUGS:
        if Service.objects.filter(slug=slug).exists():
            continue  # keep what an administrator changed since
        entry = dict(entries[slug])
        entry["links"] = [*(entry.get("links") or []), *demo_links(slug)]
        create_service(entry)
        stdout.write(f"  monitoring: demo service {slug}")
