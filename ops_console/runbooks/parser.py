"""Markdown runbook -> RunbookDocument (the contract is runbooks/README.md).
The one reader of the format is markdown-it-py: its tokens say where the
front matter, the headings, the fenced blocks and the task items are, with
their source lines (token.map); what is not a step or a phase is kept as the
Markdown prose around them, line for line.
parse() never raises on bad input: everything wrong comes back as a Problem
with its line, and the document holds as much as could be understood.
parse(lenient=True) / import_markdown() read plain Markdown runbooks written
for people (their shell blocks become click-to-run steps)."""
import re
import shlex
from pathlib import PurePath

from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from .document import SHELL_ALIASES, Parameter, Phase, Problem, RunbookDocument, Step
from .front_matter import read_front_matter
from .markdown_import import rewrite_blanks
from .params import PLACEHOLDER_RE, TEXT_TYPES, is_constrained, placeholders
from .shell_commands import unsafe_placeholders
from .step_attributes import STEP_ATTRS, StepAttributes, parse_duration  # noqa: F401 (parse_duration: API)

# The same CommonMark reading the pages render with (ui/markdown.py).
MARKDOWN = MarkdownIt("commonmark").use(front_matter_plugin).use(tasklists_plugin)
BUDGET_RE = re.compile(r"\((?P<inner>[^()]*\d\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b[^()]*)\)\s*$",
                       re.I)
BUDGET_INNER_RE = re.compile(
    r"^\s*(?P<lt><=?|≤|under|up to)?\s*(?P<a>\d+(?:\.\d+)?)\s*(?P<ua>[a-z]+)?"
    r"(?:\s*(?:-|–|—|to)\s*(?P<b>\d+(?:\.\d+)?)\s*(?P<ub>[a-z]+)?)?\s*$", re.I)
UNIT_MINUTES = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1 / 60),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 1.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 60.0),
}
# "## Diagnosis (5-15 min) {parallel}": the phase runs alongside open checklist items.
PHASE_MARKER_RE = re.compile(r"[ \t]*\{[ \t]*(?P<word>[A-Za-z_-]+)[ \t]*\}[ \t]*$")
# Code blocks that are plainly samples (shown as text, never run).
SAMPLE_LANGS = {"", "text", "txt", "plain", "plaintext", "output", "log", "logs", "none"}
BULLETS = ("-", "*", "+")   # "1. [ ] x" is a numbered line that starts with brackets, not a task item

IMPORTED_PATTERN = r"^[A-Za-z0-9._:/-]+$"


def parse(text, *, path="<string>", slug=None, lenient=False):
    """(RunbookDocument, [Problem]). lenient=True imports a plain Markdown
    runbook: unknown front-matter keys are ignored, only shell blocks become
    steps (click-to-run), $NAME placeholders become parameters."""
    return _Parser(text, path, slug, lenient).run()


def import_markdown(text, path="<string>", slug=None):
    return parse(text, path=path, slug=slug, lenient=True)


def slug_from_path(path):
    stem = PurePath(str(path)).name
    stem = stem[:-3] if stem.lower().endswith(".md") else stem
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "runbook"


def parse_budget(heading):
    """(title, start_min, end_min, ok) from "Diagnosis (5-15 min)". ok is False
    when a parenthesis with a number is not a budget we understand."""
    match = BUDGET_RE.search(heading)
    if not match:
        return heading.strip(), None, None, True
    found = BUDGET_INNER_RE.match(match.group("inner"))
    unit = found and (found.group("ub") or found.group("ua") or "").lower()
    if not found or unit not in UNIT_MINUTES or (found.group("ua") or "").lower() not in UNIT_MINUTES | {"": 0}:
        return heading.strip(), None, None, False
    title = heading[:match.start()].strip()
    a = float(found.group("a")) * UNIT_MINUTES[(found.group("ua") or unit).lower()]
    if found.group("b") is None:
        return title, (0.0 if found.group("lt") else None), a, True
    b = float(found.group("b")) * UNIT_MINUTES[unit]
    return title, a, b, b >= a


def _camel_alert_name(text):
    text = (text or "").strip().strip("`")
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text) and re.search(r"[A-Z]", text[1:]):
        return text
    return None


def blocks(tokens, offset=0):
    """The parts of a token stream the format gives a meaning to, in source
    order: (first line, end line, kind, token, text), 0-based lines as in
    token.map (end exclusive), shifted by offset. Headings count only at the
    top of the document (a heading inside a list or quote is prose); fenced
    blocks and task items count wherever they are."""
    found = []
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map[0] + offset, token.map[1] + offset
        if token.type == "heading_open" and token.level == 0:
            found.append((start, end, "heading", token, tokens[i + 1].content))
        elif token.type == "fence":
            found.append((start, end, "fence", token, token.content))
        elif (token.type == "list_item_open" and token.markup in BULLETS
              and "task-list-item" in str(token.attrGet("class") or "")
              and tokens[i + 1].type == "paragraph_open"):
            paragraph = tokens[i + 1]
            found.append((paragraph.map[0] + offset, paragraph.map[1] + offset, "task", token,
                          tokens[i + 2].content))
    return sorted(found, key=lambda block: block[0])


class _Parser:
    def __init__(self, text, path, slug, lenient):
        self.text = (text or "").lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        self.path = str(path)
        self.lenient = lenient
        self.problems = []
        self.attributes = StepAttributes(self.problem, lenient=lenient)
        self.doc = RunbookDocument(slug=slug or slug_from_path(path), title="", imported=lenient)
        self.lines = self.text.split("\n")
        self.prose = []          # Markdown lines waiting for the step they explain
        self.body_lines = {}     # step index -> the source line (1-based) of each line of its body
        self.h1 = None
        self.seen_structure = False   # a phase or a step has started

    def problem(self, line, message, severity="error"):
        self.problems.append(Problem(self.path, line, message, severity))

    def run(self):
        tokens = MARKDOWN.parse(self.text)
        start = 0
        if tokens and tokens[0].type == "front_matter":
            # Its YAML starts on line 2, after the opening ---.
            self.apply_front_matter(read_front_matter(tokens[0].content, self.problem, lenient=self.lenient))
            start = tokens[0].map[1]
        elif self.lines[0].strip() == "---":
            self.problem(1, "the front matter starting with --- is never closed (add a line with --- after it)")
        self.walk(blocks(tokens), start)
        self.finish()
        self.problems.sort(key=lambda p: p.line)
        return self.doc, self.problems

    # --- front matter ---------------------------------------------------------

    def apply_front_matter(self, meta):
        doc = self.doc
        doc.title = meta.get("title", "")
        doc.kind = meta.get("kind", "runbook")
        for key in ("services", "alerts", "tags"):
            setattr(doc, key, meta.get(key, []))
        doc.severity = meta.get("severity")
        doc.owner = meta.get("owner", "")
        doc.parameters = meta.get("parameters", [])
        for key, value in meta.items():     # keys a newer document knows (targets, ...)
            if not hasattr(doc, key) or key in ("title", "kind", "services", "alerts", "tags", "severity", "owner",
                                                "parameters"):
                continue
            setattr(doc, key, value)

    # --- body -------------------------------------------------------------------

    def walk(self, found, cursor):
        """Every line from cursor on is prose unless a block claims it."""
        lines = self.lines
        while found:
            start, end, kind, token, text = found.pop(0)
            if start < cursor:
                continue
            self.prose.extend(lines[cursor:start])
            cursor = end
            if kind == "heading":
                self.heading(int(token.tag[1:]), text.strip(), start + 1, lines[start:end], token.markup)
            elif kind == "task":
                self.add_step("manual", "\n".join(ln.strip() for ln in text.strip().split("\n")), {}, start + 1,
                              list(range(start + 1, end + 1)))
            else:
                cursor = self.fenced_block(token, text, start, end)
                if cursor < end:    # an unclosed block ended early: what follows is read again
                    found = blocks(MARKDOWN.parse("\n".join(lines[cursor:])), cursor)
        self.prose.extend(lines[cursor:])

    def heading(self, level, text, number, raw, markup):
        if level == 1 and self.h1 is None and not self.seen_structure:
            self.h1 = text
            return
        if level != 2:
            self.prose.extend(raw)
            return
        self.flush_prose_to_parent()
        self.seen_structure = True
        marker = PHASE_MARKER_RE.search(text)
        if marker and marker.group("word").lower() != "parallel":
            if not self.lenient:
                self.problem(number, f"unknown phase marker {{{marker.group('word')}}}: the only one is {{parallel}}")
            marker = None
        shown = text[:marker.start()].rstrip() if marker else text
        title, start, end, ok = parse_budget(shown)
        if not ok:
            self.problem(number, f"cannot read the time budget in {text!r} (write e.g. (0-5 min), (< 1 min), (2h))",
                         "warning")
        self.doc.phases.append(Phase(index=len(self.doc.phases), title=title or shown, heading=shown,
                                     budget_start_min=start, budget_end_min=end, line=number,
                                     parallel=marker is not None))

    def take_explanation(self):
        text = "\n".join(self.prose).strip("\n")
        self.prose = []
        if not self.seen_structure:
            self.doc.description = text
            text = ""
        self.seen_structure = True
        return text

    def flush_prose_to_parent(self):
        text = "\n".join(self.prose).strip("\n")
        self.prose = []
        if not text:
            return
        if not self.seen_structure:
            self.doc.description = text
        elif self.doc.phases:
            phase = self.doc.phases[-1]
            phase.text = f"{phase.text}\n\n{text}" if phase.text else text
        else:
            self.doc.epilogue = text

    def finish(self):
        self.flush_prose_to_parent()
        doc = self.doc
        if not doc.title:
            doc.title = self.h1 or doc.slug.replace("-", " ").capitalize()
        if self.lenient and not doc.alerts:
            alert = _camel_alert_name(self.h1) or _camel_alert_name(doc.title) or _camel_alert_name(
                PurePath(self.path).stem)
            doc.alerts = [alert] if alert else []
        self.check_placeholders()
        if not doc.steps and not self.lenient:
            self.problem(1, "the runbook has no steps (fenced code blocks or - [ ] task items)", "warning")

    # --- steps ------------------------------------------------------------------

    def fenced_block(self, token, body, start, end):
        """Reads one fenced block; returns the line where reading goes on."""
        marker, info, opened_at = token.markup, token.info.strip(), start + 1
        raw = self.lines[start:end]
        if not _closed(raw, marker):
            if not self.lenient:
                self.problem(opened_at, f"code block opened with {marker} is never closed")
                self.prose.extend(self.lines[start:])
                return len(self.lines)
            # A person's runbook: end the block where the next section starts.
            stop = next((k for k in range(start + 1, len(self.lines)) if re.match(r"^#{1,2}\s", self.lines[k])),
                        len(self.lines))
            self.problem(opened_at, f"code block opened with {marker} is never closed: it ends at line {stop}",
                         "warning")
            indent = len(self.lines[start]) - len(self.lines[start].lstrip(" \t"))
            body = "\n".join(_dedent(self.lines[start + 1:stop], indent))
            self.code_block(info, body, opened_at, self.lines[start:stop] + [marker])
            return stop
        self.code_block(info, body, opened_at, raw)
        return end

    def code_block(self, info, body, line, raw):
        try:
            words = shlex.split(info)
        except ValueError as exc:
            self.problem(line, f"cannot read the code block's attributes {info!r}: {exc}")
            words = info.split()
        word = words[0].lower() if words else ""
        kind = "shell" if word in SHELL_ALIASES else word
        body_lines = list(range(line + 1, line + 1 + len(body.split("\n"))))
        if self.lenient:
            if kind == "shell" and self.lenient_shell_step(word, body, line):
                return
            self.prose.extend(raw)
            return
        if kind not in STEP_ATTRS:
            self.prose.extend(raw)
            has_attrs = any("=" in w for w in words[1:])
            if has_attrs:
                self.problem(line, f"unknown step kind {word!r} (known: {', '.join(sorted(STEP_ATTRS))}, "
                                   "or the aliases bash, sh, console)")
            elif word not in SAMPLE_LANGS:
                self.problem(line, f"```{word} is not a step kind: the block is shown as an example, not run",
                             "warning")
            return
        attrs = {}
        for token in words[1:]:
            key, sep, value = token.partition("=")
            if not sep or not key:
                self.problem(line, f"attribute {token!r} must be written key=value")
                continue
            if key in attrs:
                self.problem(line, f"attribute {key!r} is given twice")
            attrs[key] = value
        if word == "console":
            body, kept = _console_commands(body)
            body_lines = [body_lines[i] for i in kept]
        elif kind == "shell" and any(ln.startswith("$ ") for ln in body.splitlines()):
            self.problem(line, "lines starting with '$ ' look like a console transcript: use ```console so only "
                               "the commands run", "warning")
        self.add_step(kind, body, attrs, line, body_lines)

    def lenient_shell_step(self, word, body, line):
        if word == "console" or any(_is_prompt(ln) for ln in body.splitlines()):
            body, _ = _console_commands(body)
        if not any(ln.strip() and not ln.strip().startswith("#") for ln in body.splitlines()):
            return False
        body, blanks = rewrite_blanks(body)
        known = {p.name for p in self.doc.parameters}
        for name, description in blanks:
            if name not in known:
                known.add(name)
                self.doc.parameters.append(Parameter(name=name, type="string", required=True,
                                                     pattern=IMPORTED_PATTERN, description=description, line=line))
        self.add_step("shell", body, {}, line, [])
        return True

    def add_step(self, kind, body, attrs, line, body_lines):
        explanation = self.take_explanation()
        step = Step(index=len(self.doc.steps), kind=kind, title="", body=body.strip("\n"), attrs=dict(attrs),
                    explanation=explanation, phase=self.doc.phases[-1].index if self.doc.phases else None,
                    line=line)
        # The body loses its leading blank lines: so does its map to the source.
        leading = len(body) - len(body.lstrip("\n"))
        self.body_lines[step.index] = body_lines[leading:]
        self.attributes.normalise(step, line, self.source_line(step, 0) if body_lines else None)
        step.params = placeholders(step.body)
        self.doc.steps.append(step)

    def source_line(self, step, offset):
        """The file's line of line `offset` of the step's body (the step's own line when unknown)."""
        lines = self.body_lines.get(step.index) or []
        return lines[offset] if 0 <= offset < len(lines) else step.line

    # --- parameters used by steps ------------------------------------------------

    def check_shell_quoting(self, step, declared):
        constrained = {name for name, param in declared.items() if is_constrained(param)}
        for name, offset, reason in unsafe_placeholders(step.body, constrained):
            self.problem(self.source_line(step, offset), f"{{{{ {name} }}}} is {reason}: use the parameter as an "
                                                         "argument of a program that treats it as data")

    def check_placeholders(self):
        declared = {p.name: p for p in self.doc.parameters}
        used = set()
        for step in self.doc.steps:
            for name in step.params:
                used.add(name)
                if name not in declared:
                    self.problem(self.placeholder_line(step, name),
                                 f"{{{{ {name} }}}} is not a declared parameter (declare it under parameters: in "
                                 "the front matter, or write \\{{ for literal braces)")
                elif step.kind == "shell":
                    declared[name].shell = True
            if step.kind == "shell":
                self.check_shell_quoting(step, declared)
        for param in self.doc.parameters:
            if param.shell and isinstance(param.default, str) and ("\n" in param.default or "\r" in param.default):
                self.problem(param.line, f"parameter {param.name!r}: the default must be a single line (it is used "
                                         "in a shell step)")
            if param.shell and param.type in TEXT_TYPES and not param.pattern and not self.lenient:
                self.problem(param.line, f"parameter {param.name!r} is used in a shell step but has no pattern: "
                                         "add a pattern (or make it a choice) so only expected values reach the "
                                         "command")
            if param.type == "secret" and param.default is not None:
                self.problem(param.line, f"parameter {param.name!r}: a secret cannot have a default (the runbook "
                                         "text is not secret)")
            if param.name not in used and not self.lenient:
                self.problem(param.line, f"parameter {param.name!r} is declared but no step uses it", "warning")

    def placeholder_line(self, step, name):
        for offset, text in enumerate(step.body.split("\n")):
            if any(match.group(1) == name for match in PLACEHOLDER_RE.finditer(text)):
                return self.source_line(step, offset)
        return step.line


def _closed(raw, marker):
    """Whether a fence token's lines end with its closing fence (markdown-it
    runs an unclosed block to the end of its container). Quote markers in
    front of the line are not part of the fence."""
    if len(raw) < 2:
        return False
    last = re.sub(r"^[ \t>]*", "", raw[-1]).rstrip()
    return len(last) >= len(marker) and set(last) == {marker[0]}


def _dedent(lines, indent):
    out = []
    for line in lines:
        strip = min(indent, len(line) - len(line.lstrip(" \t")))
        out.append(line[strip:])
    return out


def _console_commands(body):
    """(commands, [index of each kept line]): the commands of a console
    transcript are the lines after "$ " (and their backslash continuations);
    the rest is sample output. A transcript without any prompt keeps its
    first command."""
    lines = body.splitlines()
    prompted = any(_is_prompt(line) for line in lines)
    commands, kept, continuing = [], [], False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if continuing:
            commands.append(line)
        elif _is_prompt(line):
            commands.append(stripped[2:])
        elif not prompted and not commands and stripped:
            commands.append(stripped)
        else:
            continue
        kept.append(i)
        continuing = line.rstrip().endswith("\\")
    return "\n".join(commands), kept


def _is_prompt(line):
    stripped = line.lstrip()
    return stripped.startswith("$ ") or stripped == "$"
