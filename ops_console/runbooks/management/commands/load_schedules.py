"""Load the shipped example schedules (runbooks/schedules.yaml), turned off.
Idempotent: a name that exists is left as it is, whatever an admin made of it."""
from pathlib import Path

import yaml
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops_console.runbooks import schedules
from ops_console.runbooks.models import Runbook, Schedule


class Command(BaseCommand):
    help = "Add the example schedules of PATH (default runbooks/schedules.yaml) that are missing, turned off."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(settings.BASE_DIR / "runbooks" / "schedules.yaml"))

    def handle(self, path, **options):
        if not Path(path).is_file():
            raise CommandError(f"{path} is not a file")
        entries = yaml.safe_load(Path(path).read_text()) or []
        if not isinstance(entries, list):
            raise CommandError(f"{path}: expected a list of schedules")
        counts = {"created": 0, "unchanged": 0, "not loaded": 0}
        for entry in entries:
            name = str(entry.get("name", "")).strip()
            if Schedule.objects.filter(name=name).exists():
                counts["unchanged"] += 1
                continue
            runbook = Runbook.objects.select_related("current_version").filter(slug=entry.get("runbook")).first()
            if runbook is None:
                self.stderr.write(f"not loaded: {name!r}: no runbook {entry.get('runbook')!r} (run sync_runbooks)")
                counts["not loaded"] += 1
                continue
            try:
                schedules.do_create_schedule(
                    name=name, runbook=runbook, cron=str(entry.get("cron", "")),
                    time_zone=entry.get("time_zone", "UTC"), parameters=entry.get("parameters") or {},
                    on_missed=entry.get("on_missed", Schedule.RUN_ONCE_LATE), enabled=False, acting_user=None)
            except schedules.ScheduleInvalid as exc:
                self.stderr.write(f"not loaded: {name!r}: {exc}")
                counts["not loaded"] += 1
                continue
            counts["created"] += 1
            self.stdout.write(f"created (off): {name}")
        self.stdout.write("schedules: " + ", ".join(f"{n} {key}" for key, n in counts.items()))
        if counts["not loaded"]:
            raise CommandError(f"{counts['not loaded']} example schedule(s) were not loaded")
