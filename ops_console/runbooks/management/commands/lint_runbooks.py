"""Check Markdown runbooks without loading them: every problem as
`path:line: severity: message`, then a summary. Exits 1 when there is an
error (or, with --strict, a warning), so a runbook repository can run it in CI."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops_console.runbooks import importer, library, promql_check
from ops_console.runbooks.document import Problem
from ops_console.runbooks.parser import parse


def runbook_files(path):
    """(files, problems) under path (or path itself): the library's walk of a
    runbook directory, which refuses links out of it and files sharing a slug."""
    path = Path(path)
    if path.is_file():
        return [path], []
    files, problems = library.runbook_files(path)
    problems += library.slug_clashes(files, path).values()
    return files, problems


def lint_file(path, *, lenient=False):
    """(problems, (path, doc, text) or None when it cannot be read or parsed cleanly)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), 0, f"cannot read the file: {exc}")], None
    doc, problems = parse(text, path=str(path), lenient=lenient)
    clean = not any(p.severity == "error" for p in problems)
    return problems, (str(path), doc, text) if clean else None


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
        if lenient:     # exactly as import_runbooks reads them, nothing stored (their steps run no query)
            return self.report_import(paths, strict)
        files, problems = [], []
        for path in paths:
            if not Path(path).exists():
                raise CommandError(f"{path}: no such file or directory")
            found, tree_problems = runbook_files(path)
            files += found
            problems += tree_problems
        clean = []
        for file in files:
            found, parsed = lint_file(file, lenient=lenient)
            problems += found
            clean += [parsed] if parsed else []
        # One promtool call for the queries of every file.
        promql_problems, note = promql_check.check(clean)
        problems += promql_problems
        order = {str(file): n for n, file in enumerate(files)}
        problems.sort(key=lambda p: (order.get(p.path, -1), p.line))
        errors, warnings = 0, int(note is not None)
        if note:
            self.stdout.write(f"warning: {note}")
        for problem in problems:
            self.stdout.write(str(problem))
            errors += problem.severity == "error"
            warnings += problem.severity == "warning"
        summary = f"{len(files)} runbook(s) checked: {errors} error(s), {warnings} warning(s)"
        if errors or (strict and warnings):
            raise CommandError(summary)
        self.stdout.write(summary)

    def report_import(self, paths, strict):
        for path in paths:
            if not Path(path).exists():
                raise CommandError(f"{path}: no such file or directory")
        results = importer.import_paths(paths, save=False)
        problems = [p for result in results for p in result.all_problems]
        for problem in problems:
            self.stdout.write(str(problem))
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        skipped = sum(bool(result.skipped) for result in results)
        summary = (f"{len(results)} runbook(s) checked: {errors} error(s), {warnings} warning(s)"
                   + (f"; {skipped} without a runbook (only front matter) skipped" if skipped else ""))
        if errors or (strict and warnings):
            raise CommandError(summary)
        self.stdout.write(summary)
