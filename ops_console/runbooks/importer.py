"""Plain Markdown runbooks written for people, stored as runbooks marked
imported: their own front matter (Hugo, Jekyll, MkDocs) is kept as metadata,
the alert comes from the front matter, the file name or the title, a
catalogue with one heading per alert becomes one runbook per alert, and their
shell blocks become steps a person starts, or does by hand when they belong
to an interactive session (transcripts.py). Used by `import_runbooks` and the
Import page; a file that cannot be imported is named with its line and why,
the others are imported all the same."""
import dataclasses
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import yaml
from django.db.models import Max
from django.utils.text import slugify
from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from ops_console.audit import log as audit
from ops_console.audit.log import record

from . import library, parser
from .document import Parameter, Problem
from .markdown_import import rewrite_blanks
from .models import Runbook, RunbookVersion, sha256_of
from .params import PLACEHOLDER_RE, placeholders
from .shell_commands import unsafe_placeholders
from .transcripts import read_block

CREATED, UPDATED, UNCHANGED, REFUSED = library.CREATED, library.UPDATED, library.UNCHANGED, "refused"
MARKDOWN = MarkdownIt("commonmark").use(front_matter_plugin)
MAX_BYTES = 1_000_000
IMPORTED_PATTERN = r"^[A-Za-z0-9._:/-]+$"     # a blank the person fills in: a name, a host, a path
ALERT_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# "Alert Name: \"KubeAPIDown\"", "Alert: KubeAPIDown", "`KubeAPIDown`" (kubernetes-mixin's runbook.md).
ALERT_HEADING_RE = re.compile(r"^(?:alert(?:[ _-]?name)?[ \t]*:[ \t]*)?[\"'`]?([A-Za-z_][A-Za-z0-9_]*)[\"'`]?$", re.I)
FRONT_MATTER_ALERT_KEYS = ("alert", "alerts", "alertname", "alert_name", "alertnames")
# Names a document has that are not an alert's.
DOCUMENT_NAMES = {"readme", "index", "_index", "changelog", "contributing", "license", "summary", "runbook",
                  "runbooks", "template", "overview", "notes", "todo"}
SEVERITY_RE = re.compile(r"\bseverity\W{0,4}:\W{0,4}([a-z]+)", re.I)
RESERVED_SLUGS = {"import"}     # /runbooks/import/ is the Import page


@dataclass
class Reading:
    """One runbook read from a file (a catalogue gives several)."""
    slug: str
    source: str                     # the text stored as the version: the file, or the alert's section
    doc: object                     # RunbookDocument
    line: int = 1                   # where it starts in the file
    problems: list = field(default_factory=list)
    status: str = ""                # after storing: created | updated | unchanged | refused
    runbook: object = None


@dataclass
class FileImport:
    path: str
    readings: list = field(default_factory=list)     # [Reading]
    problems: list = field(default_factory=list)     # [Problem] of the file as a whole
    skipped: str = ""                                # why it holds no runbook (not an error)

    @property
    def errors(self):
        return [p for p in self.all_problems if p.severity == "error"]

    @property
    def all_problems(self):
        return sorted(self.problems + [p for r in self.readings for p in r.problems], key=lambda p: p.line)

    @property
    def stored(self):
        return [r for r in self.readings if r.status in (CREATED, UPDATED, UNCHANGED)]


# --- reading ---------------------------------------------------------------------

def read_text(text, *, path, name=None):
    """FileImport (not stored yet) of one file's text; path names it in
    messages and perhaps its alert; `name`, its path relative to the directory
    imported (default: the file's name alone), gives the runbook its slug, so
    that kubernetes/KubePodCrashLooping.md is kubernetes-kubepodcrashlooping."""
    result = FileImport(path)
    name = PurePath(str(name)) if name is not None else PurePath(PurePath(str(path)).name)
    text = (text or "").lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    metadata, body_start = front_matter(lines, path, result.problems)
    # The parser gets the body only, the front matter as blank lines: its lines stay the file's lines.
    # (A --- never closed is a rule, not front matter: blank too, so the parser does not call it one.)
    body_start = body_start or int(bool(result.problems))
    body = "\n" * body_start + "\n".join(lines[body_start:])
    if not body.strip():
        result.skipped = "nothing to import: only front matter (a section page)" if body_start > 1 else \
            "nothing to import: the file is empty"
        return result
    tokens = MARKDOWN.parse(body)
    sections = catalogue_sections(tokens, lines, bare=not is_alert_name(PurePath(path).stem))
    if sections:
        for alert, parts in sections.items():
            source = "\n\n".join("\n".join(lines[start:end]).strip("\n") for start, end in parts) + "\n"
            # A catalogue's runbooks are named for their alerts, in the catalogue's folder.
            reading = _reading(source, path=path, slug=slug_for(name.parent / alert), first_line=parts[0][0] + 1,
                               metadata={**metadata, "catalogue": PurePath(path).name})
            reading.doc.title, reading.doc.alerts = alert, [alert]
            severity = SEVERITY_RE.search(source)
            reading.doc.severity = severity.group(1).lower() if severity else reading.doc.severity
            result.readings.append(reading)
        return result
    reading = _reading(body, path=path, slug=slug_for(name), first_line=1, metadata=metadata, source=text)
    doc = reading.doc
    title = metadata.get("title") if isinstance(metadata.get("title"), str) else ""
    doc.title = (title or doc.title or reading.slug)[:300]
    doc.alerts = alerts_for(metadata, path, doc.title, first_heading(tokens))
    if isinstance(metadata.get("tags"), list):
        doc.tags = [str(tag) for tag in metadata["tags"] if isinstance(tag, (str, int))]
    result.readings.append(reading)
    return result


def slug_for(name):
    """The slug of a path relative to the imported tree, one slugified part per
    folder: a/b/Same.md -> a-b-same (a .md suffix is no part of it)."""
    name = PurePath(str(name))
    parts = [*name.parent.parts, name.stem if name.suffix.lower() == ".md" else name.name]
    slug = "-".join(part for part in map(slugify, parts) if part)[:200].strip("-") or "runbook"
    return f"{slug}-runbook" if slug in RESERVED_SLUGS else slug


def front_matter(lines, path, problems):
    """(metadata, index of the first body line). YAML between --- lines or
    TOML between +++ lines, kept whatever its keys; what cannot be read is
    kept as text with a warning: a person's runbook is imported anyway."""
    if not lines or lines[0].strip() not in ("---", "+++"):
        return {}, 0
    marker = lines[0].strip()
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ((marker, "...") if marker == "---"
                                                                       else (marker,))), None)
    if end is None:
        problems.append(Problem(path, 1, f"the front matter opened with {marker} is never closed: read as text",
                                "warning"))
        return {}, 0
    source = "\n".join(lines[1:end])
    try:
        data = tomllib.loads(source) if marker == "+++" else yaml.safe_load(source)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else (getattr(exc, "lineno", 0) or 0) + 1 if marker == "+++" else 1
        reason = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        problems.append(Problem(path, line, f"the front matter cannot be read ({reason}): kept as text", "warning"))
        return {"front_matter": source}, end + 1
    if data is None:
        return {}, end + 1
    if not isinstance(data, dict):
        return {"front_matter": source}, end + 1
    # Dates and other YAML values as JSON keeps them.
    return json.loads(json.dumps(data, default=str)), end + 1


def first_heading(tokens):
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            return tokens[i + 1].content.strip()
    return ""


def is_alert_name(name, *, titles=()):
    """A file name or title that is an alert's: one word (KubePodCrashLooping,
    etcdNoLeader) in camel case, or a single capitalised word the document's
    title repeats (Watchdog.md titled Watchdog)."""
    name = (name or "").strip().strip("`\"'")
    if not ALERT_NAME_RE.fullmatch(name) or name.lower() in DOCUMENT_NAMES:
        return False
    camel = re.search(r"[a-z0-9][A-Z]", name) is not None
    return camel or (name[0].isupper() and name in titles)


def alerts_for(metadata, path, title, heading):
    """The alert a runbook answers: named in its front matter, else its file
    name, else its title or first heading."""
    for key, value in metadata.items():
        if str(key).lower() in FRONT_MATTER_ALERT_KEYS:
            names = value if isinstance(value, list) else str(value or "").split(",")
            names = [str(n).strip() for n in names if ALERT_NAME_RE.fullmatch(str(n).strip())]
            if names:
                return names
    stem = PurePath(str(path)).stem
    for name in (stem, heading, title):
        if is_alert_name(name, titles=(title, heading)):
            return [name.strip().strip("`\"'")]
    return []


def catalogue_sections(tokens, lines, *, bare=True):
    """{alert: [(start, end)]} (0-based lines, end exclusive) when the document
    is a catalogue: at one heading level, two or more headings each name an
    alert ("Alert Name: X", or with bare=True a plain KubePodNotReady, which
    a runbook named after one alert only mentions). An alert's section runs to
    the next heading of its level or higher; an alert named twice (a warning
    and a critical rule) gets both sections."""
    headings = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0:
            text = tokens[i + 1].content.strip()
            match = ALERT_HEADING_RE.match(text)
            name = match.group(1) if match else None
            # Two capitalised parts at least: KubeAPIDown, etcdNoLeader; not PromQL or PostgreSQL.
            is_alert = bool(name) and (":" in text or bare and len(re.findall(r"[A-Z][a-z]", name)) >= 2)
            headings.append((int(token.tag[1:]), token.map[0], name if is_alert else None))
    by_level = {}
    for level, _, name in headings:
        if name:
            by_level.setdefault(level, set()).add(name)
    levels = [level for level, names in by_level.items() if len(names) >= 2]
    if not levels:
        return {}
    level = max(levels, key=lambda lv: len(by_level[lv]))
    sections = {}
    for n, (this_level, start, name) in enumerate(headings):
        if this_level != level or not name:
            continue
        end = next((s for lv, s, _ in headings[n + 1:] if lv <= level), len(lines))
        sections.setdefault(name, []).append((start, end))
    return sections


def _reading(body, *, path, slug, first_line, metadata, source=None):
    """Parse one runbook's text leniently and make its shell steps fit for
    people (steps_for_people); problem lines are the file's."""
    offset = first_line - 1
    doc, problems = parser.import_markdown(body, path=path, slug=slug)
    doc.imported, doc.metadata = True, metadata
    tokens = MARKDOWN.parse(body)
    noted = {p.line for p in problems}      # the parser may have said a block is never closed already
    problems += [p for p in steps_for_people(doc, tokens, body.split("\n"), path) if p.line not in noted]
    for problem in problems:
        problem.path, problem.line = path, problem.line + offset if problem.line else problem.line
    return Reading(slug, source if source is not None else body, doc, line=first_line,
                   problems=sorted(problems, key=lambda p: p.line))


# --- steps -----------------------------------------------------------------------

def steps_for_people(doc, tokens, lines, path):
    """Rebuild the document's shell steps from their blocks as written: the
    commands without prompts or sample output (which joins the explanation);
    a command of an interactive session, with the session's opening command,
    a manual step (never run on the worker's host); the others click-to-run
    shell steps whose blanks ($NAME, <name>) are parameters. [Problem]"""
    fences = {token.map[0] + 1: token for token in tokens if token.type == "fence"}
    problems, steps, params, depth = [], [], {}, 0
    declared = {p.name: p for p in doc.parameters}
    for step in doc.steps:
        if step.kind != "shell":
            steps.append(step)
            continue
        token = fences.get(step.line)
        if token is None:       # not a block we can read again: keep what the parser made of it
            pieces, depth = read_block(step.body, depth=depth)
            rewritten = True
        else:
            content, note = _block_text(token, lines)
            if note:
                problems.append(Problem(path, step.line, note, "warning"))
            word = (token.info.split() or [""])[0].lower()
            pieces, depth = read_block(content, console=word == "console", depth=depth)
            rewritten = False
        for k, piece in enumerate(pieces):
            explanation = step.explanation if k == 0 else ""
            if piece.output:
                sample = "\n".join(piece.output).replace("```", "'''")
                explanation = f"{explanation}\n\nSample output:\n\n```text\n{sample}\n```".strip("\n")
            if piece.kind == "shell":
                body, blanks = (piece.text, []) if rewritten else rewrite_blanks(piece.text)
                if unsafe_placeholders(body):
                    piece.kind, piece.why = "manual", "its blanks cannot be filled in safely by the worker"
                else:
                    for name, description in blanks:
                        params.setdefault(name, Parameter(name=name, type="string", required=True,
                                                          pattern=IMPORTED_PATTERN, description=description,
                                                          line=step.line))
                    for name in placeholders(body):
                        if name in declared:
                            params.setdefault(name, declared[name])
            if piece.kind == "manual":
                body = piece.text if rewritten else PLACEHOLDER_RE.sub(lambda m: "\\" + m.group(0), piece.text)
                explanation = f"{explanation}\n\n*Done by hand:* {piece.why}.".strip("\n")
                for name in placeholders(body):
                    if name in declared:
                        params.setdefault(name, declared[name])
            title = next((c.text for c in piece.commands if c.where != "assignment"), piece.text).split("\n")[0]
            steps.append(dataclasses.replace(
                step, kind=piece.kind, title=title[:80], body=body, explanation=explanation, params=placeholders(body),
                auto=False, confirm=False, attrs={}, expect=None))
    for index, step in enumerate(steps):
        step.index = index
    doc.steps = steps
    doc.parameters = [p for p in params.values()] + [p for p in doc.parameters if p.name not in params
                                                     and any(p.name in s.params for s in steps)]
    return problems


def _block_text(token, lines):
    """(content, note): a block never closed ends where the next section
    starts (markdown-it would run it to the end of the file)."""
    start, end = token.map
    closing = lines[end - 1].strip() if end - 1 > start and end - 1 < len(lines) else ""
    marker = token.markup
    if closing.startswith(marker) and set(closing) <= {marker[0]}:
        return token.content, ""
    content = token.content.split("\n")
    for i, line in enumerate(content):
        if re.match(r"^#{1,2}[ \t]+[A-Z][A-Za-z ]*$", line) or re.match(r"^#{2,6}[ \t]", line):
            return ("\n".join(content[:i]),
                    f"the code block opened here is never closed: read up to line {start + i + 1}")
    return token.content, "the code block opened here is never closed: read to the end of the file"


# --- storing -----------------------------------------------------------------------

def import_texts(named_texts, *, actor=None, save=True):
    """[(path, text or an OSError/UnicodeError[, name relative to the imported
    directory: the slug's source, default the file's name])] -> [FileImport], each stored
    runbook in its own transaction with its audit entry. Two files that would
    be one runbook are both refused; the rest of the batch is imported.
    save=False only reads and checks (lint_runbooks --import)."""
    results = []
    for path, text, *name in named_texts:
        if isinstance(text, Exception):
            results.append(FileImport(path, problems=[unreadable(path, text)]))
            continue
        results.append(read_text(text, path=path, name=name[0] if name else None))
    by_slug = {}
    for result in results:
        for reading in result.readings:
            by_slug.setdefault(reading.slug, []).append((result, reading))
    for slug, same in by_slug.items():
        if len(same) > 1:
            where = ", ".join(f"{r.path}:{reading.line}" for r, reading in same)
            for result, reading in same:
                reading.status = REFUSED
                reading.problems.append(Problem(result.path, reading.line,
                                                f"{where} would all be the runbook {slug!r}: rename all but one "
                                                "(none is imported)"))
    for result in results:
        for reading in result.readings:
            if not save:
                continue
            if reading.status != REFUSED and not any(p.severity == "error" for p in reading.problems):
                store(reading, path=result.path, actor=actor)
            elif not reading.status:
                reading.status = REFUSED
    return results


def unreadable(path, exc):
    if isinstance(exc, UnicodeDecodeError):
        line = exc.object[:exc.start].count(b"\n") + 1
        return Problem(path, line, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}): not imported")
    return Problem(path, 0, f"cannot read the file: {exc}")


def read_file(path, *, display=str):
    """(display path, text or the exception): a file found by the walk is
    never followed through a link (O_NOFOLLOW), nor read past MAX_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with open(fd, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
        return display(path), decode(raw)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return display(path), exc


def decode(raw):
    if len(raw) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 1000} kB: not a runbook")
    if b"\x00" in raw:
        raise ValueError("a binary file, not Markdown text")
    return raw.decode("utf-8")


def import_paths(paths, *, actor=None, save=True):
    """Files and directories (every *.md below, README.md aside; links out
    of a directory refused) -> [FileImport]."""
    named, refused = [], []
    for path in map(Path, paths):
        if path.is_dir():
            files, tree_problems = library.runbook_files(path, display=library.display_path)
            refused += [FileImport(p.path, problems=[p]) for p in tree_problems if p.severity == "error"]
            named += [(*read_file(file, display=library.display_path), file.relative_to(path)) for file in files]
        else:
            named.append((*read_file(path, display=library.display_path), path.name))
    return refused + import_texts(named, actor=actor, save=save)


def store(reading, *, path, actor=None):
    """Make the reading its runbook's current version (a new version only when
    the text changed); a runbook of the console's own format is never replaced
    by an import."""
    doc, digest = reading.doc, sha256_of(reading.source)
    with audit.atomic():    # the chain's lock before the runbook's
        runbook, created = Runbook.objects.select_for_update().get_or_create(
            slug=reading.slug, defaults={"title": doc.title[:300] or reading.slug})
        current = runbook.current_version
        if not created and current is not None and not current.document.get("imported"):
            reading.status = REFUSED
            where = f" (from {runbook.source_path})" if runbook.source_path else ""
            reading.problems.append(Problem(path, reading.line, f"the runbook {reading.slug!r} exists{where} and was "
                                                                "not imported: it is not replaced (rename the file)"))
            return
        reading.runbook = runbook
        if current is not None and current.sha256 == digest and not runbook.archived:
            reading.status = UNCHANGED
            return
        version = runbook.versions.filter(sha256=digest).first()   # back to an earlier text
        if version is None:
            number = (runbook.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version = RunbookVersion.objects.create(runbook=runbook, number=number, source=reading.source,
                                                    sha256=digest, document=doc.to_json(), created_by=actor)
        before = None if created else {"version": current.number if current else None}
        runbook.current_version = version
        runbook.title, runbook.kind = doc.title[:300] or reading.slug, doc.kind
        runbook.services, runbook.alerts = list(doc.services), list(doc.alerts)
        runbook.source_path = path[:500]
        runbook.archived = False
        runbook.save(update_fields=["current_version", "title", "kind", "services", "alerts", "source_path",
                                    "archived", "updated_at"])
        record("runbook.imported", obj=runbook, actor=actor, before=before,
               after={"version": version.number, "sha256": digest, "path": runbook.source_path,
                      "alerts": runbook.alerts})
        reading.status = CREATED if created else UPDATED


def save_edit(text, *, runbook, actor=None):
    """The editor's save of an imported runbook: read as an import (its own
    front matter stays metadata), kept under its address and, unless the new
    text names another, its alerts. -> library.Saved"""
    path = runbook.source_path or f"{runbook.slug}.md"
    result = read_text(text, path=path.split("#")[0])
    if result.skipped or len(result.readings) != 1:
        why = result.skipped or "one runbook per text here: import a catalogue on the Import page"
        return library.Saved(library.INVALID, problems=result.problems + [Problem(path, 1, why)])
    [reading] = result.readings
    reading.slug, reading.doc.slug = runbook.slug, runbook.slug
    reading.doc.alerts = reading.doc.alerts or list(runbook.alerts)
    if result.errors:
        return library.Saved(library.INVALID, problems=result.all_problems)
    store(reading, path=path, actor=actor)
    if reading.status == REFUSED:
        return library.Saved(library.INVALID, problems=reading.problems)
    runbook.refresh_from_db()
    return library.Saved(reading.status, runbook, runbook.current_version, result.all_problems)
