"""Runbook texts into the database: parse, and save a new immutable version
only when the text changed. Used by `sync_runbooks`, the demo loader and the
in-browser editor."""
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify

from ops_console.audit.log import record

from .models import Runbook, RunbookVersion, sha256_of

CREATED, UPDATED, UNCHANGED, INVALID = "created", "updated", "unchanged", "invalid"


@dataclass
class Saved:
    status: str
    runbook: Runbook | None = None
    version: RunbookVersion | None = None
    problems: list = field(default_factory=list)   # [Problem]

    @property
    def errors(self):
        return [p for p in self.problems if p.severity == "error"]


def display_path(path):
    """Paths inside the project are kept relative to it, so every process agrees."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def slug_for(path):
    return slugify(Path(path).stem)[:200]


def save_text(text, *, slug, path="", actor=None):
    """Parse `text` and make it the runbook's current version. A text with
    errors is not saved; the Saved result names them."""
    from . import parser

    doc, problems = parser.parse(text, path=path or f"{slug}.md", slug=slug)
    saved = Saved(INVALID, problems=problems)
    if saved.errors:
        return saved
    digest = sha256_of(text)
    with transaction.atomic():
        runbook, created = Runbook.objects.select_for_update().get_or_create(
            slug=slug, defaults={"title": doc.title[:300] or slug})
        current = runbook.current_version
        if current is not None and current.sha256 == digest and not runbook.archived:
            return Saved(UNCHANGED, runbook, current, problems)
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
    return Saved(CREATED if created else UPDATED, runbook, version, problems)


def sync_directory(directory, *, actor=None):
    """Load every runbook file in `directory` -> [(path, Saved)]. Runbooks whose
    file is gone from this directory are archived (their runs stay)."""
    directory = Path(directory)
    results = []
    seen = set()
    for path in sorted(directory.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue  # the format documentation, not a runbook
        rel = display_path(path)
        slug = slug_for(path)
        seen.add(slug)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            from .document import Problem
            results.append((rel, Saved(INVALID, problems=[Problem(rel, 0, f"cannot read the file: {exc}")])))
            continue
        results.append((rel, save_text(text, slug=slug, path=rel, actor=actor)))
    prefix = display_path(directory).rstrip("/") + "/"
    for runbook in Runbook.objects.filter(archived=False, source_path__startswith=prefix).exclude(slug__in=seen):
        runbook.archived = True
        runbook.save(update_fields=["archived", "updated_at"])
        record("runbook.archived", obj=runbook, actor=actor, after={"path": runbook.source_path})
    return results
