"""Load a directory of Markdown runbooks into the database (a new version only
when a file changed). Files with errors (PromQL that promtool cannot parse, a
link out of the directory, two files for one slug) are not loaded and are named."""
from django.core.management.base import BaseCommand, CommandError

from ops_console.runbooks import library


class Command(BaseCommand):
    help = "Load Markdown runbooks from PATH (default runbooks/) as new versions when they changed."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default="runbooks/")

    def handle(self, path, **options):
        from pathlib import Path

        if not Path(path).is_dir():
            raise CommandError(f"{path} is not a directory")
        results = library.sync_directory(path)
        for note in dict.fromkeys(note for _, saved in results for note in saved.notes):   # once, not per file
            self.stderr.write(f"warning: {note}")
        counts = {key: 0 for key in (library.CREATED, library.UPDATED, library.UNCHANGED, library.INVALID)}
        for file, saved in results:
            counts[saved.status] += 1
            if saved.status == library.INVALID:
                self.stderr.write(f"not loaded: {file}")
                for problem in saved.errors:
                    self.stderr.write(f"  {problem}")
            elif saved.status != library.UNCHANGED:
                self.stdout.write(f"{saved.status}: {file} -> {saved.runbook.slug} v{saved.version.number}")
        summary = ", ".join(f"{n} {key}" for key, n in counts.items() if key != library.INVALID)
        self.stdout.write(f"runbooks: {summary}, {counts[library.INVALID]} with errors")
        if counts[library.INVALID]:
            raise CommandError(f"{counts[library.INVALID]} runbook file(s) with errors were not loaded")
