"""Which command a {{ placeholder }} reaches in a shell step. The body is
split into simple commands (on newlines, ; & && || |, groups, and into
$(...), <(...), >(...)), and every placeholder is checked at each level that
encloses it: its own command, the pipeline its output flows into, and the
command whose argument holds the substitution it sits in. shell_programs.py
knows what each program does with its arguments. A small scanner built on
shell_contexts(), not a shell: where it is unsure, the linter refuses."""
import bisect
import re
from dataclasses import dataclass, field

from .params import ENV_PREFIX, PLACEHOLDER_RE
from .shell_context import shell_contexts
from .shell_programs import ASSIGNMENT_RE, DECLARERS, READERS, program_reason, reads_program_from_stdin, unquote

CONTEXT_NAMES = {
    "S": "inside single quotes (it would stay the literal text of a variable reference; close the quotes "
         "around it: 'a'{{ name }}'b')",
    "E": "inside $'...' quotes (close the quotes around it)",
    "H": "inside a here-document (pass it as an argument or with printf '%s' {{ name }} | ... instead)",
    "B": "inside backticks (use $(...))",
    "P": "inside ${...}",
    "A": "inside an arithmetic expression (bash evaluates a variable's value there as code)",
    "T": "inside [[ ... ]] (bash evaluates its operands as arithmetic; use [ ... ])",
}
# Contexts where a reference expands once: fine for int and bool parameters only.
EXPANDING_CONTEXTS = {"B", "P", "A", "T"}
OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "\n")
REDIRECT_RE = re.compile(r"(?:\d*|&)(?:>>|>&|>\||<<<|<<-|<<|<>|<&|>|<)")
KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "esac", "in"}


@dataclass
class Word:
    start: int
    end: int
    raw: str
    redirect: str = ""          # the operator when the word is a redirection target: <, <<<, >, ...

    @property
    def text(self):
        return unquote(self.raw)


@dataclass(eq=False)
class Command:
    words: list = field(default_factory=list)        # arguments, assignments included (redirections apart)
    redirects: list = field(default_factory=list)
    parent: tuple | None = None                       # (Command, Word) holding the substitution it is in
    downstream: list = field(default_factory=list)    # commands reading its output through a pipe


class ShellScript:
    """The simple commands of a shell body, and what reaches what."""

    def __init__(self, body):
        self.body = body
        self.ctx = shell_contexts(body)
        self.commands = []
        self.functions = set()        # names of functions the body defines
        top, _ = self._list(0, None)
        self.commands.extend(top)

    # --- splitting --------------------------------------------------------------

    def _plain(self, i):
        return self.ctx[i] in ("N", "C")

    def _list(self, i, closer):
        """Commands from i to the closer (")", "}" or the end); returns
        (every command of the list, groups flattened, index after the closer)."""
        body, n = self.body, len(self.body)
        commands, pipeline, element, cmd = [], [], [], None

        def end_command():
            nonlocal cmd
            if cmd is not None and (cmd.words or cmd.redirects):
                element.append(cmd)
                commands.append(cmd)
            cmd = None

        def end_pipeline():
            end_command()
            if element:
                pipeline.append(list(element))
            for k, part in enumerate(pipeline):
                later = [c for p in pipeline[k + 1:] for c in p]
                for c in part:
                    c.downstream.extend(later)
            pipeline.clear()
            element.clear()

        while i < n:
            c = body[i]
            if self.ctx[i] in ("H", "#"):        # a here-document's text or a comment: no commands
                i += 1
                continue
            if self._plain(i):
                if body.startswith("\\\n", i) or c in " \t":
                    i += 2 if c == "\\" else 1
                    continue
                if c == ")":
                    if closer == ")":
                        end_pipeline()
                        return commands, i + 1
                    end_pipeline()               # a case pattern: a separator as far as we care
                    i += 1
                    continue
                if c == "(" and not body.startswith("((", i):
                    if cmd is not None and cmd.words and body.startswith("()", i):
                        self.functions.add(cmd.words.pop().text)       # name() { ...; }
                        cmd = None if not cmd.words else cmd
                        i += 2
                        continue
                    end_command()
                    inner, i = self._list(i + 1, ")")
                    element.extend(inner)
                    commands.extend(inner)
                    continue
                op = next((o for o in OPERATORS if body.startswith(o, i)), None)
                if op and not body.startswith("&>", i):
                    if op in ("|", "|&"):
                        end_command()
                        pipeline.append(list(element))
                        element.clear()
                    else:
                        end_pipeline()
                    i += len(op)
                    continue
                redirect = REDIRECT_RE.match(body, i)
                if redirect and not re.match(r"[<>]\(", body[i:i + 2]):
                    cmd = cmd or Command()
                    i = redirect.end()
                    while i < n and body[i] in " \t":
                        i += 1
                    word, i = self._word(i, cmd)
                    word.redirect = redirect.group().lstrip("0123456789&")
                    cmd.redirects.append(word)
                    continue
            cmd = cmd or Command()
            word, i = self._word(i, cmd)
            if not cmd.words and word.text in KEYWORDS and not cmd.redirects:
                continue
            if not cmd.words and word.raw == "{":
                end_command()
                inner, i = self._list(i, "}")
                element.extend(inner)
                commands.extend(inner)
                continue
            if not cmd.words and word.raw == "}" and closer == "}":
                cmd = None
                end_pipeline()
                return commands, i
            if not cmd.words and word.raw == "function":
                continue
            cmd.words.append(word)
        end_pipeline()
        return commands, i

    def _word(self, i, cmd):
        """The word starting at i (its substitutions parsed as commands whose
        parent is this word) and the index after it."""
        body, n = self.body, len(self.body)
        start = i
        word = Word(start, start, "")
        while i < n:
            c, ctx = body[i], self.ctx[i]
            placeholder = PLACEHOLDER_RE.match(body, i) if c == "{" else None
            if placeholder:                       # {{ name }} is one piece of a word, spaces and all
                i = placeholder.end()
                continue
            if ctx in ("N", "C"):
                if body.startswith("\\\n", i):
                    i += 2
                    continue
                if c == "\\":
                    i += 2
                    continue
                if body.startswith("$(", i) and not body.startswith("$((", i) or (
                        i == start and re.match(r"[<>]\(", body[i:i + 2])):
                    i = self._substitution(i + 2, cmd, word)
                    continue
                if c == "(" and ASSIGNMENT_RE.fullmatch(body[start:i]):
                    close = body.find(")", i)                      # arr=(a b c)
                    i = n if close < 0 else close + 1
                    continue
                if body.startswith("((", i) and (i == start or body.startswith("$((", i - 1)):
                    i += 2                       # (( or $(( opens arithmetic: one opaque word
                    continue
                if c in " \t\n;&|()<>":
                    break
            elif ctx == "D" and body.startswith("$(", i) and not body.startswith("$((", i):
                i = self._substitution(i + 2, cmd, word)
                continue
            elif ctx in ("H", "#"):
                break
            i += 1
        if i == start:
            i += 1                               # a stray operator character: never stall
        word.end = i
        word.raw = body[start:i]
        return word, i

    def _substitution(self, i, cmd, word):
        inner, end = self._list(i, ")")
        for c in inner:
            if c.parent is None:
                c.parent = (cmd, word)
        self.commands.extend(inner)
        return end

    # --- where a position is ----------------------------------------------------------

    def innermost(self, pos):
        """(Command, Word) of the smallest word holding pos, or (None, None)."""
        best = (None, None)
        for cmd in self.commands:
            for word in cmd.words + cmd.redirects:
                if word.start <= pos < word.end and (
                        best[1] is None or word.end - word.start < best[1].end - best[1].start):
                    best = (cmd, word)
        return best

    def reason(self, pos):
        """Why a value at pos would be parsed as code again, or None: checked
        at its own command, the pipe after it, and every enclosing command."""
        cmd, word = self.innermost(pos)
        while cmd is not None:
            found = self._word_reason(cmd, word) or self._pipe_reason(cmd)
            if found:
                return found
            cmd, word = cmd.parent or (None, None)
        return None

    def _word_reason(self, cmd, word):
        texts = [w.text for w in cmd.words]
        if word.redirect:
            reader = word.redirect in ("<", "<<<", "<>") and reads_program_from_stdin(texts)
            return f"fed to {reader}" if reader else None
        return program_reason(texts, cmd.words.index(word), self.functions)

    def _pipe_reason(self, cmd):
        for later in cmd.downstream:
            reader = reads_program_from_stdin([w.text for w in later.words])
            if reader:
                return f"piped into {reader}"
        return None

    # --- variables that hold a value -------------------------------------------------

    def tainted_variables(self, positions):
        """Names of the variables the body fills from a value (NAME=..., for
        NAME in ..., read NAME): a value in a variable is still the value."""
        names, changed = set(), True
        while changed:
            changed = False
            marks = sorted(positions + [m.start() for m in self.references(names)])
            for cmd in self.commands:
                texts = [w.text for w in cmd.words]
                for k, word in enumerate(cmd.words):
                    if not any(word.start <= p < word.end for p in marks):
                        continue
                    found = ASSIGNMENT_RE.match(word.text)
                    if found and (k == 0 or ASSIGNMENT_RE.match(texts[k - 1]) or texts[0] in DECLARERS):
                        new = {found.group(1)}
                    elif texts[:1] in (["for"], ["select"]) and len(texts) > 1:
                        new = {texts[1]}
                    else:
                        continue
                    if not new <= names:
                        names |= new
                        changed = True
                if texts[:1] and texts[0] in READERS and marks:
                    new = {t for t in texts[1:] if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t)}
                    if not new <= names:
                        names |= new
                        changed = True
        return names

    def references(self, names):
        """Matches of $NAME / ${NAME...} for the given names, outside single quotes."""
        if not names:
            return []
        pattern = re.compile(r"\$\{?(" + "|".join(map(re.escape, sorted(names))) + r")(?![A-Za-z0-9_])")
        return [m for m in pattern.finditer(self.body) if self.ctx[m.start()] not in ("S", "E", "#", "H")]


def unsafe_placeholders(body, constrained=()):
    """[(name, line offset in body, reason)] for every placeholder of a shell
    body whose value could be parsed as code again, or whose reference would
    not expand where it stands. constrained: names of int and bool parameters,
    which may also stand where bash evaluates arithmetic."""
    script = ShellScript(body or "")
    ctx = script.ctx
    newlines = [i for i, c in enumerate(script.body) if c == "\n"]

    def line(pos):
        return bisect.bisect_left(newlines, pos)

    found = []
    matches = list(PLACEHOLDER_RE.finditer(script.body))
    for match in matches:
        name, start = match.group(1), match.start()
        where = ctx[start]
        if where in CONTEXT_NAMES and not (where in EXPANDING_CONTEXTS and name in constrained):
            reason = CONTEXT_NAMES[where]
        elif start and script.body[start - 1] == "$":
            reason = "right after a $ (the shell would read it as a variable name)"
        else:
            reason = script.reason(start)
        if reason:
            found.append((name, line(start), reason))
    tainted = script.tainted_variables([m.start() for m in matches])
    for ref in script.references(tainted):
        where = ctx[ref.start()]
        reason = CONTEXT_NAMES.get(where) if where in EXPANDING_CONTEXTS else script.reason(ref.start())
        if reason:
            found.append((ref.group(1), line(ref.start()),
                          f"copied into ${ref.group(1)}, which is {reason}"))
    for ref in re.finditer(r"\$\{?" + ENV_PREFIX + r"([A-Za-z_][A-Za-z0-9_]*)", script.body):
        if ctx[ref.start()] not in ("S", "E", "#"):
            found.append((ref.group(1), line(ref.start()), f"written as ${ENV_PREFIX}{ref.group(1)} by hand "
                                                           "(write {{ name }}, so the linter can check where it goes)"))
    return sorted(set(found), key=lambda f: f[1])
