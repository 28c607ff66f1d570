"""Check Markdown runbooks without loading them: every problem as
`path:line: severity: message`, then a summary. Exits 1 when there is an
error (or, with --strict, a warning), so a runbook repository can run it in CI."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops_console.runbooks.document import Problem
from ops_console.runbooks.parser import parse


def runbook_files(path):
    """The Markdown files under path (or path itself); README.md documents the
    format and is not a runbook."""
    path = Path(path)
    if path.is_file():
        return [path]
    return [p for p in sorted(path.rglob("*.md")) if p.name.lower() != "readme.md"]


def lint_file(path, *, lenient=False):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), 0, f"cannot read the file: {exc}")]
    return parse(text, path=str(path), lenient=lenient)[1]


class Command(BaseCommand):
    help = "Check Markdown runbooks (default runbooks/) and print every problem with its file and line."
    requires_system_checks = []     # a CI lint step needs no database, URLs or other apps

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default runbooks/)")
        parser.add_argument("--strict", action="store_true", help="warnings fail too")
        parser.add_argument("--import", dest="lenient", action="store_true",
                            help="read plain Markdown runbooks written for people, as the importer does")

    def handle(self, *args, paths, strict, lenient, **options):
        paths = paths or [str(Path(settings.BASE_DIR) / "runbooks")]
        files = []
        for path in paths:
            if not Path(path).exists():
                raise CommandError(f"{path}: no such file or directory")
            files += runbook_files(path)
        errors = warnings = 0
        for file in files:
            for problem in lint_file(file, lenient=lenient):
                self.stdout.write(str(problem))
                errors += problem.severity == "error"
                warnings += problem.severity == "warning"
        summary = f"{len(files)} runbook(s) checked: {errors} error(s), {warnings} warning(s)"
        if errors or (strict and warnings):
            raise CommandError(summary)
        self.stdout.write(summary)
