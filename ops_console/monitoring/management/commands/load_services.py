"""Load the services the runbook library names (runbooks/services.yaml): each with
its selector, SLOs and panels. Idempotent: a slug that exists is left as it is,
whatever an admin made of it; `bootstrap` runs this after every upgrade."""
from pathlib import Path

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ops_console.monitoring.models import SLO, Panel, Service

SHIPPED = Path(settings.BASE_DIR) / "runbooks" / "services.yaml"
SERVICE_KEYS = {"slug", "name", "owner", "selector", "description", "links"}
IGNORED_KEYS = {"source"}   # where the numbers come from: for readers and the library tests


def _fields(model):
    """What a file may set on a model: its own columns but the key and the ordering."""
    return {f.name for f in model._meta.get_fields() if f.concrete} - {"id", "service", "position"}


def read_services(path):
    """The entries of a services file, checked for their shape (not yet saved)."""
    try:
        entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise CommandError(f"{path}: {exc}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CommandError(f"{path}: expected a list of services")
    for entry in entries:
        unknown = set(entry) - SERVICE_KEYS - IGNORED_KEYS - {"slos", "panels"}
        unknown |= {f"slos.{k}" for slo in entry.get("slos") or [] for k in set(slo) - _fields(SLO)}
        unknown |= {f"panels.{k}" for panel in entry.get("panels") or [] for k in set(panel) - _fields(Panel)}
        if unknown:
            raise CommandError(f"{path}: service {entry.get('slug')!r}: unknown keys {', '.join(sorted(unknown))}")
    return entries


def create_service(entry):
    """Create one service with its SLOs and panels; ValidationError if any part is invalid."""
    service = Service(**{key: entry[key] for key in SERVICE_KEYS if key in entry})
    service.full_clean()
    service.save()
    for position, spec in enumerate(entry.get("slos") or []):
        slo = SLO(service=service, position=position, **spec)
        slo.full_clean()
        slo.save()
    for position, spec in enumerate(entry.get("panels") or []):
        panel = Panel(service=service, position=position, **spec)
        panel.full_clean()
        panel.save()
    return service


class Command(BaseCommand):
    help = "Add the services of PATH (default runbooks/services.yaml) that are missing; never changes one that exists."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(SHIPPED))

    def handle(self, path, **options):
        entries = read_services(path)
        created = unchanged = 0
        with transaction.atomic():   # all or nothing: a half-loaded file is harder to fix than none
            for entry in entries:
                if Service.objects.filter(slug=entry.get("slug")).exists():
                    unchanged += 1
                    continue
                try:
                    create_service(entry)
                except ValidationError as exc:
                    raise CommandError(f"{path}: service {entry.get('slug')!r}: {exc}") from None
                created += 1
                self.stdout.write(f"  service created: {entry['slug']}")
        self.stdout.write(f"  Services: {created} created, {unchanged} unchanged")
