"""Which alert rules Prometheus has loaded have a runbook, and the share that
do: one line per rule, then the percentage. With --min PERCENT it fails (exit
1) below the threshold, for CI; it fails too when Prometheus cannot be asked."""
from django.core.management.base import BaseCommand, CommandError

from ops_console.monitoring.prometheus import PrometheusError
from ops_console.runbooks import coverage


class Command(BaseCommand):
    help = "List every alert rule Prometheus has loaded with its runbook (or none) and the coverage in percent."

    def add_arguments(self, parser):
        parser.add_argument("--min", type=float, default=None, metavar="PERCENT",
                            help="exit with an error when fewer than PERCENT %% of the rules have a runbook")
        parser.add_argument("--prometheus", default=None, metavar="URL",
                            help="the Prometheus to ask (default: PROMETHEUS_URL)")

    def handle(self, *args, **options):
        try:
            found = coverage.coverage(options["prometheus"])
        except PrometheusError as exc:
            raise CommandError(f"Prometheus could not be asked for its rules: {exc}") from exc
        for rule in found.rules:
            answer = f"{rule.runbook.slug} (by {'alert name' if rule.matched_by == 'alerts' else 'runbook_url'})" \
                if rule.runbook else "none"
            self.stdout.write(f"{rule.alert}\t{rule.group}\t{answer}")
        if found.percent is None:
            # A Prometheus without rules is a misconfiguration a CI check must not pass.
            self.stdout.write("coverage: Prometheus has loaded no alert rule")
            percent = 0.0
        else:
            percent = found.percent
            self.stdout.write(f"coverage: {percent:g}% ({found.covered} of {len(found.rules)} alert rules have a "
                              "runbook)")
        if options["min"] is not None and percent < options["min"]:
            raise CommandError(f"coverage {percent:g}% is below the minimum of {options['min']:g}%")
