"""Runbook texts into the database: parse, and save a new immutable version
only when the text changed. Used by `sync_runbooks`, the demo loader and the
in-browser editor; `runbook_files` is the one walk of a runbook directory
(also for `lint_runbooks`)."""
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db.models import Max
from django.utils.text import slugify

from ops_console.audit import log as audit
from ops_console.audit.log import record

from . import promql_check
from .document import Problem
from .models import Runbook, RunbookVersion, sha256_of

CREATED, UPDATED, UNCHANGED, INVALID = "created", "updated", "unchanged", "invalid"


@dataclass
class Saved:
    status: str
    runbook: Runbook | None = None
    version: RunbookVersion | None = None
    problems: list = field(default_factory=list)   # [Problem]
    notes: list = field(default_factory=list)      # [str]: what could not be checked (promtool missing)

    @property
    def errors(self):
        return [p for p in self.problems if p.severity == "error"]


def display_path(path):
    """Paths inside the project are kept relative to it, so every process
    agrees. The name itself is not resolved: a link is shown as the link."""
    path = Path(path)
    path = path.parent.resolve() / path.name
    try:
        return str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def slug_for(path):
    return slugify(Path(path).stem)[:200]


def runbook_files(directory, *, display=str):
    """The runbook files under `directory` -> ([Path], [Problem]), sorted;
    README.md documents the format and is not a runbook. Symbolic links are
    never read: one whose target is outside the directory is an error (it
    would show a file from elsewhere as a runbook); one inside is skipped with
    a warning, as its target is read under its own name."""
    directory = Path(directory)
    root = directory.resolve()
    found, problems = [], []
    for folder, dirnames, filenames in os.walk(directory):   # a linked directory is listed, never entered
        folder = Path(folder)
        links = [name for name in dirnames if (folder / name).is_symlink()]   # they may hold runbooks
        runbooks = [name for name in filenames if name.lower().endswith(".md") and name.lower() != "readme.md"]
        for name in links + runbooks:
            path = folder / name
            if not path.is_symlink():
                found.append(path)
                continue
            try:
                target = path.resolve()
            except (OSError, RuntimeError):    # a loop of links: it leads nowhere inside either
                target = None
            kind = "directory" if target and target.is_dir() else "file"
            if target and (target == root or root in target.parents):
                problems.append(Problem(display(path), 0, f"a symbolic link to a {kind} in the runbook directory: "
                                                          "not read (the target is read under its own name)",
                                        "warning"))
            else:
                problems.append(Problem(display(path), 0, f"a symbolic link to a {kind} outside the runbook "
                                                          "directory: not read"))
    return sorted(found), sorted(problems, key=lambda p: p.path)


def slug_clashes(files, directory, *, display=str):
    """{path: Problem} for every file whose slug another file has too: they
    would be one runbook that flips between them on every sync."""
    by_slug = defaultdict(list)
    for path in files:
        by_slug[slug_for(path)].append(path)
    clashes = {}
    for slug, same in by_slug.items():
        if len(same) > 1:
            names = [str(Path(p).relative_to(directory)) for p in same]
            if len(same) == 2:
                message = (f"{names[0]} and {names[1]} would both be the runbook {slug!r}: rename one "
                           "(neither is loaded)")
            else:
                message = f"{', '.join(names)} would all be the runbook {slug!r}: rename all but one (none is loaded)"
            for path in same:
                clashes[path] = Problem(display(path), 0, message)
    return clashes


def read_runbook(path):
    """The text of one file found by runbook_files; O_NOFOLLOW so a file
    swapped for a link since the walk is not read either."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with open(fd, encoding="utf-8") as handle:
        return handle.read()


def check_text(text, *, slug, path=""):
    """(doc, problems, notes): the parser's problems plus the PromQL check."""
    from . import parser

    path = path or f"{slug}.md"
    doc, problems = parser.parse(text, path=path, slug=slug)
    notes = []
    if not any(p.severity == "error" for p in problems):
        found, note = promql_check.check([(path, doc, text)])
        problems = sorted(problems + found, key=lambda p: p.line)
        notes = [note] if note else []
    return doc, problems, notes


def save_text(text, *, slug, path="", actor=None):
    """Parse `text` (and check its PromQL) and make it the runbook's current
    version. A text with errors is not saved; the Saved result names them."""
    doc, problems, notes = check_text(text, slug=slug, path=path)
    return _save(text, doc, problems, notes, slug=slug, path=path, actor=actor)


def _save(text, doc, problems, notes, *, slug, path, actor, keep_imported=False):
    saved = Saved(INVALID, problems=problems, notes=notes)
    if saved.errors:
        return saved
    digest = sha256_of(text)
    with audit.atomic():  # the chain's lock before the runbook's
        runbook, created = Runbook.objects.select_for_update().get_or_create(
            slug=slug, defaults={"title": doc.title[:300] or slug})
        current = runbook.current_version
        if keep_imported and current is not None and current.document.get("imported"):
            # The import's mirror image (importer.store): neither silently replaces the other.
            where = f" from {runbook.source_path}" if runbook.source_path else ""
            return Saved(INVALID, runbook, problems=problems + [Problem(
                path or f"{slug}.md", 0, f"the runbook {slug!r} was imported{where}: {path or 'this file'} does not "
                                         "replace it (rename one of them)")], notes=notes)
        if current is not None and current.sha256 == digest and not runbook.archived:
            return Saved(UNCHANGED, runbook, current, problems, notes)
        version = runbook.versions.filter(sha256=digest).first()  # back to an earlier text
        if version is None:
            number = (runbook.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version = RunbookVersion.objects.create(runbook=runbook, number=number, source=text, sha256=digest,
                                                    document=doc.to_json(), created_by=actor)
        before = None if created else {"version": current.number if current else None}
        runbook.current_version = version
        runbook.title, runbook.kind = doc.title[:300] or slug, doc.kind
        runbook.services, runbook.alerts = list(doc.services), list(doc.alerts)
        runbook.source_path = path or runbook.source_path
        runbook.archived = False
        runbook.save(update_fields=["current_version", "title", "kind", "services", "alerts", "source_path",
                                    "archived", "updated_at"])
        record("runbook.created" if created else "runbook.updated", obj=runbook, actor=actor, before=before,
               after={"version": version.number, "sha256": digest, "path": runbook.source_path})
    return Saved(CREATED if created else UPDATED, runbook, version, problems, notes)


def sync_directory(directory, *, actor=None):
    """Load every runbook file in `directory` -> [(path, Saved)]. Runbooks whose
    file is gone from this directory are archived (their runs stay). The
    PromQL of all files is checked in one promtool call."""
    from . import parser

    directory = Path(directory)
    files, tree_problems = runbook_files(directory, display=display_path)
    clashes = slug_clashes(files, directory, display=display_path)
    results = [(problem.path, Saved(INVALID, problems=[problem]))
               for problem in tree_problems if problem.severity == "error"]
    seen = {slug_for(path) for path in files}   # a clash keeps its runbook as it was, not archived
    parsed = []
    for path in files:
        rel = display_path(path)
        slug = slug_for(path)
        if path in clashes:
            results.append((rel, Saved(INVALID, problems=[clashes[path]])))
            continue
        try:
            text = read_runbook(path)
        except (OSError, UnicodeDecodeError) as exc:
            results.append((rel, Saved(INVALID, problems=[Problem(rel, 0, f"cannot read the file: {exc}")])))
            continue
        doc, problems = parser.parse(text, path=rel, slug=slug)
        parsed.append((rel, slug, text, doc, problems))
    promql_problems, note = promql_check.check([(rel, doc, text) for rel, _, text, doc, problems in parsed
                                                if not any(p.severity == "error" for p in problems)])
    for rel, slug, text, doc, problems in parsed:
        problems = sorted(problems + [p for p in promql_problems if p.path == rel], key=lambda p: p.line)
        results.append((rel, _save(text, doc, problems, [note] if note else [], slug=slug, path=rel,
                                   actor=actor, keep_imported=True)))
    prefix = display_path(directory.resolve()).rstrip("/") + "/"
    for runbook in Runbook.objects.filter(archived=False, source_path__startswith=prefix).exclude(slug__in=seen):
        runbook.archived = True
        runbook.save(update_fields=["archived", "updated_at"])
        record("runbook.archived", obj=runbook, actor=actor, after={"path": runbook.source_path})
    return sorted(results, key=lambda item: item[0])
