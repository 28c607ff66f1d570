"""Start the console's own health check (the `check-console-health` runbook)
against the local services, so a newcomer sees a green run within a minute of
starting the standalone console. Prints the run's URL."""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from ops_console.runbooks import engine, params
from ops_console.runbooks.models import Runbook

SLUG = "check-console-health"


class Command(BaseCommand):
    help = "Start a run of the check-console-health runbook against this console's local services."

    def add_arguments(self, parser):
        parser.add_argument("--redis-port", type=int, required=True)

    def handle(self, redis_port, **options):
        runbook = Runbook.objects.filter(slug=SLUG).select_related("current_version").first()
        if runbook is None or runbook.current_version is None:
            raise CommandError(f"the {SLUG} runbook is not loaded (run bootstrap first)")
        version = runbook.current_version
        values, errors = params.validate(version.parsed().parameters,
                                         {"console_url": settings.BASE_URL, "redis_port": str(redis_port)})
        if errors:
            raise CommandError(f"cannot start {SLUG}: {errors}")
        # Started "by" the first admin so the run page shows a person, not a blank.
        actor = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        run = engine.start_run(version, values, actor=actor, context={"demo": True})
        self.stdout.write(f"  Health check run: {settings.BASE_URL}{reverse('runbooks:run', args=[run.pk])}")
