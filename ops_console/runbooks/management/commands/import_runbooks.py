"""Store plain Markdown runbooks written for people (files or directories) as
runbooks marked imported; prints what became of every file and every problem
as `path:line: severity: message`. Exits 1 when a file could not be imported,
after importing all the others."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops_console.runbooks import importer


class Command(BaseCommand):
    help = "Import plain Markdown runbooks (Hugo, Jekyll, MkDocs or none) from files or directories."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Markdown files or directories of them")

    def handle(self, *args, paths, **options):
        for path in paths:
            if not Path(path).exists() and not Path(path).is_symlink():
                raise CommandError(f"{path}: no such file or directory")
        results = importer.import_paths(paths)
        counts = dict.fromkeys((importer.CREATED, importer.UPDATED, importer.UNCHANGED, importer.REFUSED), 0)
        skipped = failed = 0
        for result in results:
            for problem in result.all_problems:
                self.stdout.write(str(problem))
            if result.skipped:
                skipped += 1
                self.stdout.write(f"{result.path}: skipped, {result.skipped}")
            for reading in result.readings:
                counts[reading.status] += 1
                alerts = f" (alert {', '.join(reading.doc.alerts)})" if reading.doc.alerts else ""
                self.stdout.write(f"{result.path}:{reading.line}: {reading.status} {reading.slug}{alerts}")
            failed += bool(result.errors) or (not result.readings and not result.skipped)
        summary = (f"{len(results)} file(s): {counts[importer.CREATED]} runbook(s) created, "
                   f"{counts[importer.UPDATED]} updated, {counts[importer.UNCHANGED]} unchanged, "
                   f"{counts[importer.REFUSED]} refused; {skipped} file(s) skipped, {failed} with errors")
        if failed:
            raise CommandError(summary)
        self.stdout.write(summary)
