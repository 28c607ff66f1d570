"""Write the error-budget burn-rate rules of every budgeted SLO to
deploy/prometheus/rules/slo_burn_rates.yml, checked by promtool first;
--check only says whether that file is up to date (exit 1 when it is not)."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops_console.monitoring import burn_rules
from ops_console.monitoring.models import SLO

DEFAULT_OUTPUT = Path("deploy") / "prometheus" / "rules" / "slo_burn_rates.yml"


class Command(BaseCommand):
    help = ("Generate Prometheus recording rules and multi-window, multi-burn-rate alerts for every SLO "
            "with an error budget.")

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / DEFAULT_OUTPUT),
                            help=f"the rules file to write (default: {DEFAULT_OUTPUT} of this checkout)")
        parser.add_argument("--check", action="store_true",
                            help="write nothing; exit 1 when the file differs from what the SLOs generate")

    def handle(self, output, check, **options):
        slos = SLO.objects.select_related("service").filter(target__isnull=False)
        try:
            text = burn_rules.render(slos)
        except burn_rules.RulesError as exc:
            raise CommandError(str(exc)) from exc
        path = Path(output)
        if check:
            if not path.is_file() or path.read_text() != text:
                raise CommandError(f"{path} is out of date with the SLOs: run `manage.py generate_slo_rules`",
                                   returncode=1)
            self.stdout.write(f"{path} is up to date ({len(slos)} budgeted SLOs)")
            return
        try:
            problem = burn_rules.promtool_check(text)
        except FileNotFoundError as exc:
            self.stderr.write(f"warning: {exc}: the rules were not checked")
            problem = None
        if problem:
            raise CommandError(f"promtool refuses the generated rules, nothing written:\n{problem}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.stdout.write(f"{path}: rules for {len(slos)} budgeted SLOs")
