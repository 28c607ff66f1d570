"""A shell block written for people, read as a person would: which lines are
commands (after a `$ ` prompt, or every line when there is none) and which are
sample output, and where each command runs. A command typed inside an
interactive session (`oc debug node/x`, `kubectl exec -it`, `kubectl rsh`,
`ssh host`, `chroot /host`, up to its `exit`) runs on a node or in a pod, not
on the worker's host: the importer makes it a step a person does, together
with the command that opened the session. A session stays open from block to
block, as it does in the reader's terminal."""
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePath

PROMPT_RE = re.compile(r"^[ \t]*\$(?:[ \t]|$)")
ROOT_PROMPT_RE = re.compile(r"^[ \t]*#[ \t]+(?=[A-Za-z./])")   # "# lsof -n" inside a root shell
# NAME=value, also with a blank to fill in: NODE_NAME=<instance label from alert>
ASSIGNMENT_RE = re.compile(
    r"^(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|\"[^\"]*\"|<[^<>\n]*>|[^ \t;&|]*)[ \t]*$")
HEREDOC_RE = re.compile(r"<<-?[ \t]*(['\"]?)([A-Za-z0-9_]+)\1")
# A line of a table a program printed: "NAMESPACE   NAME    READY" (upper-case words, wide gaps).
TABLE_HEADER_RE = re.compile(r"^[ \t]*[A-Z][A-Z0-9_()-]*(?:[ \t]{2,}[A-Z][A-Z0-9_() -]*){1,}[ \t]*$")
VARIABLE_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")

KUBE = {"kubectl", "oc", "k"}
# kubectl/oc flags that take a value (so the word after them is not the subcommand or a pod).
KUBE_VALUE_FLAGS = {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server",
                    "--as", "--token", "-c", "--container", "-l", "--selector", "--image", "-f", "--filename",
                    "--profile", "--target"}
SSH_VALUE_FLAGS = set("-b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w -B".split())
WRAPPERS = {"sudo", "env", "time", "nohup", "command", "stdbuf"}
# Programs that only mean something on a cluster's node or in its pods: never on the worker's host.
NODE_PROGRAMS = {"etcdctl", "journalctl", "systemctl", "crictl", "runc", "exit", "logout", "nsenter"}
# Programs that wait for a person at a terminal (an editor, a pager, a live view).
INTERACTIVE_PROGRAMS = {"vi", "vim", "nvim", "nano", "emacs", "less", "more", "top", "htop", "watch", "mc"}
SHELLS = {"bash", "sh", "zsh", "ash", "dash", "fish"}


@dataclass
class Command:
    text: str                       # as typed, without its prompt (with its continuation lines)
    offset: int                     # 0-based line of the block where it starts
    output: list = field(default_factory=list)   # the sample output printed after it
    where: str = "host"             # host | session | person | assignment
    why: str = ""                   # what made it a person's step


@dataclass
class Piece:
    """Consecutive commands of a block that run the same way: `shell` (the
    worker runs it when a person starts it) or `manual` (a person does it)."""
    kind: str
    commands: list                  # [Command]
    why: str = ""

    @property
    def text(self):
        return "\n".join(c.text for c in self.commands)

    @property
    def output(self):
        return [line for c in self.commands for line in c.output]


def read_block(body, *, console=False, depth=0):
    """([Piece], depth after the block). depth: how many interactive sessions
    are open when the block starts (from the blocks before it)."""
    commands = split_commands(body, console=console, depth=depth)
    for command in commands:
        depth = _place(command, depth)
    return _pieces(commands), depth


def split_commands(body, *, console=False, depth=0):
    """The commands of a block with the sample output after each. With `$ `
    prompts, only prompted lines (and their continuations and here-documents)
    are commands, and inside a session `# ` is the root shell's prompt; without
    prompts every line is, except a printed table or `...` and what follows it
    up to the next blank line (and, in a ```console block, all after the first)."""
    lines = body.split("\n")
    prompted = any(PROMPT_RE.match(line) for line in lines)
    commands, i, in_output = [], 0, False
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        start = None
        if prompted:
            if PROMPT_RE.match(line):
                start = re.sub(r"^[ \t]*\$[ \t]?", "", line)
            elif ROOT_PROMPT_RE.match(line) and _opens_after(commands, depth):
                start = ROOT_PROMPT_RE.sub("", line)
        elif not stripped:
            in_output = False
        elif in_output or (console and commands) or stripped == "..." or (commands and TABLE_HEADER_RE.match(line)):
            in_output = True
        else:
            start = line
        if start is None:
            if stripped and commands:
                commands[-1].output.append(line)
            i += 1
            continue
        command, i = _with_continuations(lines, i, start)
        commands.append(Command(command, i - command.count("\n") - 1))
    return [c for c in commands if c.text.strip()]


def is_comment(command):
    return all(not line.strip() or line.lstrip().startswith("#") for line in command.text.split("\n"))


def _opens_after(commands, depth):
    """Is a session open once these commands have been typed?"""
    for command in commands:
        depth = _place(Command(command.text, 0), depth)
    return depth > 0


def _with_continuations(lines, i, first):
    """(command text, index of the next line): a trailing backslash continues a
    command on the next line; a here-document runs to its delimiter."""
    parts = [first.rstrip()]
    heredoc = HEREDOC_RE.search(first)
    i += 1
    while parts[-1].endswith("\\") and i < len(lines):
        parts.append(re.sub(r"^[ \t]*\$[ \t]?", "", lines[i]).rstrip())
        heredoc = heredoc or HEREDOC_RE.search(lines[i])
        i += 1
    if heredoc:
        while i < len(lines):
            parts.append(lines[i])
            i += 1
            if lines[i - 1].strip() == heredoc.group(2):
                break
    return "\n".join(parts), i


# --- where a command runs -------------------------------------------------------

def _place(command, depth):
    """Set command.where (and why); return the session depth after it."""
    words = command_words(command.text)
    program = words[0] if words else ""
    if ASSIGNMENT_RE.match(command.text.strip()):
        command.where = "session" if depth else "assignment"
        return depth
    if depth:
        command.where, command.why = "session", "typed inside the interactive session opened before it"
        if program in ("exit", "logout"):
            return depth - 1
        return depth + bool(opens_session(words))
    opener = opens_session(words)
    if opener:
        command.where, command.why = "session", opener
        return depth + 1
    reason = runs_elsewhere(words) or waits_for_a_person(words)
    if reason:
        command.where, command.why = "person", reason
    return depth


def command_words(text):
    """The words of a command without wrappers (sudo, env, VAR=value) and with
    each $(...) or `...` as one word; words[0] is the program's base name."""
    text = _collapse_substitutions(text.split("\n")[0].rstrip("\\"))
    text = re.split(r"\s(?:\|\|?|&&|;)\s", text)[0]
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        words = text.split()
    wrapped = []
    while words and (words[0] in WRAPPERS or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
        wrapped.append(words.pop(0))
        while wrapped[-1] in WRAPPERS and words and words[0].startswith("-"):
            wrapped.append(words.pop(0))
    if not words and "sudo" in wrapped and {"-i", "-s"} & set(wrapped):
        return ["su"]       # sudo -i: a root shell
    if words:
        words[0] = PurePath(words[0]).name
    return words


def _collapse_substitutions(text):
    out, i = [], 0
    while i < len(text):
        if text.startswith("$(", i) or text[i] == "`":
            closing, depth, j = ("`", 0, i + 1) if text[i] == "`" else (")", 1, i + 2)
            while j < len(text):
                if closing == ")" and text[j] == "(":
                    depth += 1
                elif text[j] == closing:
                    depth -= 1
                    if depth <= 0:
                        break
                j += 1
            out.append("SUBSTITUTION")
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _subcommand(words, value_flags):
    """(subcommand, [positional words after it], [flags]) of kubectl-like words."""
    sub, positional, flags, i = None, [], [], 1
    while i < len(words):
        word = words[i]
        if word == "--":
            positional.append(word)
            positional.extend(words[i + 1:])
            break
        if word.startswith("-"):
            flags.append(word)
            if word in value_flags and "=" not in word:
                i += 1
        elif sub is None:
            sub = word
        else:
            positional.append(word)
        i += 1
    return sub, positional, flags


def opens_session(words):
    """Why these words open an interactive session, or ""."""
    if not words:
        return ""
    program = words[0]
    if program in KUBE:
        sub, positional, flags = _subcommand(words, KUBE_VALUE_FLAGS)
        has_command = "--" in positional and positional.index("--") < len(positional) - 1
        tty = any(f in ("--stdin", "--tty", "-it", "-ti") or re.fullmatch(r"-[a-z]*[it][a-z]*", f)
                  and f not in ("-l", "-c", "-n") for f in flags)
        if sub == "debug" and not has_command:
            return f"`{program} debug` opens a shell on the node or in the pod"
        if sub == "rsh":
            return f"`{program} rsh` opens a shell in the pod"
        if sub == "exec" and (tty or not has_command):
            return f"`{program} exec` without a command to run (or with -it) opens a shell in the pod"
        return ""
    if program == "ssh":
        _, positional, _ = _subcommand(["ssh", "host", *words[1:]], SSH_VALUE_FLAGS)
        return "`ssh` without a remote command opens a shell on that host" if len(positional) <= 1 else ""
    if program == "chroot":
        return "`chroot` without a command opens a shell in that root" if len(words) <= 2 else ""
    if program in ("docker", "podman", "crictl") and len(words) > 1 and words[1] == "exec" and any(
            re.fullmatch(r"-[a-z]*[it][a-z]*", w) for w in words[2:]):
        return f"`{program} exec -it` opens a shell in the container"
    if program in SHELLS and len(words) == 1:
        return f"`{program}` opens a shell"
    if program in ("su", "toolbox"):
        return f"`{program}` opens a shell"
    return ""


def runs_elsewhere(words):
    """Why a command belongs on a node or in a pod (not on the worker's host), or ""."""
    if not words or words[0] in KUBE | {"ssh"}:     # what they run remotely (after --) is not run here
        return ""
    if words[0] in NODE_PROGRAMS:
        return f"`{words[0]}` runs on the cluster's node or in its pod, not on the worker's host"
    if words[0] == "chroot" or any(w == "/host" or w.startswith("/host/") or "\"/host/" in w for w in words):
        return "it works on /host, the node's disk as a debug pod sees it"
    return ""


def waits_for_a_person(words):
    """Why a command needs a person at a terminal (an editor, a follow), or ""."""
    if not words:
        return ""
    program = words[0]
    if program in INTERACTIVE_PROGRAMS:
        return f"`{program}` waits for a person at a terminal"
    if program in KUBE:
        sub, _, flags = _subcommand(words, KUBE_VALUE_FLAGS)
        if sub in ("edit", "attach", "port-forward", "proxy"):
            return f"`{program} {sub}` waits for a person at a terminal (or runs until stopped)"
        if (sub == "logs" and {"-f", "--follow"} & set(flags)) or (sub == "get" and {"-w", "--watch"} & set(flags)):
            return f"`{program} {sub}` with a follow flag runs until stopped"
    if program == "tail" and {"-f", "-F", "--follow"} & set(words):
        return "`tail -f` runs until stopped"
    return ""


# --- pieces -----------------------------------------------------------------------

def _pieces(commands):
    """Group commands by how they run; an assignment goes with the piece that
    follows it, and is repeated in any later piece of the block that uses it."""
    pieces, assignments, pending = [], [], []
    for command in commands:
        if command.where == "assignment":
            assignments.append(command)
            pending.append(command)
            continue
        kind = "shell" if command.where == "host" else "manual"
        if pieces and pieces[-1].kind == kind and not pending:
            pieces[-1].commands.append(command)
            continue
        used = set(VARIABLE_RE.findall(command.text))
        earlier = [a for a in assignments if a not in pending and _assigned_name(a) in used]
        pieces.append(Piece(kind, earlier + pending + [command], why=command.why))
        pending = []
    if pending and pieces:
        pieces[-1].commands.extend(pending)
    # A block of comments only ("# TODO: command needed") or of assignments only does nothing by itself.
    return [piece for piece in pieces if any(not is_comment(c) and c.where != "assignment" for c in piece.commands)]


def _assigned_name(command):
    return re.sub(r"^export[ \t]+", "", command.text.strip()).split("=", 1)[0]
