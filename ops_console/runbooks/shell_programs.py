"""What programs do with their arguments, for the shell-step linter: which
run an argument as code (eval, sh -c, python -c, awk's program, ssh's remote
command), which run another command named later on the line (sudo, env,
timeout, xargs, kubectl exec --), and which read a program from their
standard input (bash, python3, source /dev/stdin). A program that is not
named here treats its arguments as data."""
import re

SHELLS = {"sh", "bash", "rbash", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "yash", "fish", "csh", "tcsh"}
# Every argument is code, or is handed to a shell: no position is safe.
RUNS_ARGUMENTS = {
    "eval": "eval, which runs its arguments as shell code",
    "let": "let, which evaluates its arguments as arithmetic (and runs command substitutions in them)",
    "trap": "trap, which runs its argument as shell code",
    "watch": "watch, which runs its arguments through sh -c",
    "parallel": "parallel, which runs its arguments through a shell",
    "su": "su, which hands its arguments to a shell",
    "tmux": "tmux, which runs its commands through a shell", "screen": "screen, which runs its command",
    "pwsh": "pwsh, which runs its arguments as code", "powershell": "powershell, which runs its arguments as code",
    "unset": "unset (bash evaluates array subscripts in a variable name)",
    "alias": "alias, which defines shell code", "at": "at, which runs its input as shell code",
    "batch": "batch, which runs its input as shell code", "crontab": "crontab, which schedules shell code",
}
# Programs that run the command that follows their options:
# (options taking an argument, long ones, positional words before the command,
#  options whose argument is shell code, long ones).
WRAPPERS = {
    "sudo": ("ugCDhprtUTR", {"--user", "--group", "--chdir", "--chroot", "--prompt", "--close-from", "--host",
                             "--role", "--type", "--command-timeout", "--other-user"}, 0, "si", {"--shell", "--login"}),
    "doas": ("uC", set(), 0, "s", set()),
    "env": ("uC", {"--unset", "--chdir"}, 0, "S", {"--split-string"}),
    "nice": ("n", {"--adjustment"}, 0, "", set()),
    "nohup": ("", set(), 0, "", set()), "setsid": ("", set(), 0, "", set()),
    "exec": ("a", set(), 0, "", set()), "command": ("", set(), 0, "", set()), "builtin": ("", set(), 0, "", set()),
    "time": ("fo", {"--format", "--output"}, 0, "", set()),
    "stdbuf": ("ioe", {"--input", "--output", "--error"}, 0, "", set()),
    "timeout": ("sk", {"--signal", "--kill-after"}, 1, "", set()),
    "chroot": ("", {"--userspec", "--groups"}, 1, "", set()),
    "flock": ("wE", {"--timeout", "--wait", "--conflict-exit-code"}, 1, "c", {"--command"}),
    "xargs": ("adEILnPs", {"--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args",
                           "--max-procs", "--max-chars", "--process-slot-var"}, 0, "", set()),
    "ionice": ("cnp", {"--class", "--classdata", "--pid"}, 0, "", set()),
    "taskset": ("", set(), 1, "", set()), "chrt": ("T", set(), 1, "", set()),
    "nsenter": ("tSG", {"--target", "--setuid", "--setgid"}, 0, "", set()), "unshare": ("", set(), 0, "", set()),
    "strace": ("oepsSbEIuXPa", set(), 0, "", set()), "unbuffer": ("", set(), 0, "", set()),
    "busybox": ("", set(), 0, "", set()), "runuser": ("ugG", {"--user", "--group", "--supp-group"}, 0, "c",
                                                      {"--command", "--session-command"}),
    "script": ("tTIOBEm", set(), 0, "c", {"--command"}),
}
# Interpreters: (name pattern, code options, long code options, options with an
# argument, options naming a module to run).
INTERPRETERS = [
    (r"python[0-9.]*|pypy[0-9.]*", "c", set(), "WX", "m"),
    (r"perl[0-9.]*", "eE", set(), "IMmxlCdDi0", ""),
    (r"ruby[0-9.]*", "e", set(), "IrCEFxTWKd", ""),
    (r"node|nodejs|bun", "ep", {"--eval", "--print"}, "r", ""),
    (r"deno", "", set(), "", ""),
    (r"php[0-9.]*", "rBREd", set(), "cz", ""),
    (r"lua[0-9.]*|luajit", "e", set(), "l", ""),
    (r"Rscript|R", "e", {"--expr"}, "", ""),
    (r"osascript", "e", set(), "ls", ""),
    (r"expect", "c", set(), "", ""),
    (r"tclsh[0-9.]*|wish[0-9.]*|jshell|gdb|irb|ghci", "", set(), "", ""),
]
STDIN_FILES = {"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"}
ASSIGNMENT_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[[^]]*\])?\+?=")
DECLARERS = {"export", "local", "declare", "typeset", "readonly"}
READERS = {"read", "mapfile", "readarray"}
NAME_IS_CODE = "the name of the program to run (the value would choose the program)"


def unquote(raw):
    """A word as the shell would see it, roughly: quotes and backslashes gone."""
    return re.sub(r"""\\(.)|['"]""", lambda m: m.group(1) or "", raw.replace("\\\n", ""), flags=re.S)


def _name(text):
    return text.rsplit("/", 1)[-1]


def _interpreter(name):
    return next((spec for spec in INTERPRETERS if re.fullmatch(spec[0], name)), None)


def is_code_runner(name):
    return name in SHELLS or name in RUNS_ARGUMENTS or name in ("source", ".") or bool(_interpreter(name))


def _skip_assignments(words, i):
    while i < len(words) and ASSIGNMENT_RE.match(words[i]):
        i += 1
    return i


def program_reason(words, target, functions=()):
    """Why words[target] (one argument of a simple command, as unquoted text)
    would be parsed as code again, or None when it stays data."""
    return _command(words, _skip_assignments(words, 0), target, set(functions))


def _command(words, i, target, functions):
    if i >= len(words) or target < i:
        return None                    # an assignment before the command: data
    if target == i:
        return NAME_IS_CODE
    word = words[i]
    name = _name(word)
    if "$" in word or "`" in word:
        return "an argument of a program whose name is only known when the step runs"
    if name in functions:
        return f"passed to {name}, a function of this step (the linter does not follow a value into a function)"
    if name in RUNS_ARGUMENTS:
        return f"passed to {RUNS_ARGUMENTS[name]}"
    if name == "flock" and any(w in ("-c", "--command") or w.startswith("--command=") for w in words[i + 1:target]):
        return "passed to flock -c, which runs it through a shell"
    if name in WRAPPERS:
        nxt = _wrapper(words, i, target, name)
        return nxt if isinstance(nxt, str) or nxt is None else _command(words, nxt, target, functions)
    if name in SHELLS:
        return _shell(words, i, target, name)
    spec = _interpreter(name)
    if spec:
        return _interpreted(words, i, target, name, spec)
    handler = SPECIAL.get(name)
    if handler:
        return handler(words, i, target, functions)
    return None


def _wrapper(words, i, target, name):
    """The index of the command a wrapper runs, None when the target stays
    data, or a reason when it reaches shell code."""
    short_arg, long_arg, positionals, short_code, long_code = WRAPPERS[name]
    if name == "runuser" and not any(w in ("-u", "--user") or w.startswith("--user=") for w in words[i + 1:]):
        return f"passed to {name}, which hands its arguments to a shell"
    j = i + 1
    while j < len(words):
        w = words[j]
        if w == "--":
            j += 1
            break
        if not w.startswith("-") or w == "-":
            break
        if w.startswith("--"):
            key, eq, _ = w.partition("=")
            if key in long_code:
                return f"passed to {name} {key}, which runs it as shell code" if target >= j else None
            j += 1 if eq or key not in long_arg else 2
            continue
        for k, letter in enumerate(w[1:], 1):
            if letter in short_code:
                return f"passed to {name} -{letter}, which runs it through a shell" if target >= j else None
            if letter in short_arg:
                j += 0 if k < len(w) - 1 else 1         # -uroot or -u root
                break
        j += 1
    if name == "env":
        j = _skip_assignments(words, j)
    j += positionals
    if target < j:
        return None                    # an option or operand of the wrapper itself
    return j if j < len(words) else None


def _shell(words, i, target, name):
    j, stdin_mode = i + 1, False
    while j < len(words):
        w = words[j]
        if w in ("--", "-"):
            j += 1
            break
        if len(w) < 2 or w[0] not in "-+":
            break
        if w.startswith("--"):
            key = w.partition("=")[0]
            if key in ("--command", "--init-command"):
                return _code(name, key, j, target)
            j += 2 if key in ("--rcfile", "--init-file") and "=" not in w else 1
            continue
        letters = w[1:]
        if "c" in letters or (name == "fish" and "C" in letters):
            return _code(name, w, j, target)
        stdin_mode = stdin_mode or "s" in letters
        j += 2 if letters[-1] in "oO" else 1           # -o pipefail
    if target < j:
        return f"an option of {name} (options of a shell can run code)"
    if stdin_mode:
        return None                    # bash -s ARGS: positional parameters
    if target == j:
        return f"the script {name} runs (the value would choose the code)"
    return None


def _code(name, flag, j, target):
    if target > j:
        return f"passed to {name} {flag}, which runs its argument as shell code"
    return None


def _interpreted(words, i, target, name, spec):
    _, code, long_code, arg_letters, module_letters = spec
    j = i + 1
    if name == "deno" and j < len(words) and words[j] == "eval":
        return f"passed to deno eval, which runs it as code" if target > j else None
    while j < len(words):
        w = words[j]
        if w == "--":
            j += 1
            break
        if not w.startswith("-") or w == "-":
            break
        if w.startswith("--"):
            if w.partition("=")[0] in long_code:
                return f"passed to {name} {w.partition('=')[0]}, which runs it as code" if target >= j else None
            j += 1
            continue
        for k, letter in enumerate(w[1:], 1):
            if letter in code:
                return f"passed to {name} -{letter}, which runs it as code" if target >= j else None
            if letter in module_letters:
                module = j if k < len(w) - 1 else j + 1
                return f"the module {name} -{letter} runs" if target == module else None
            if letter in arg_letters:
                j += 0 if k < len(w) - 1 else 1
                break
        j += 1
    if target < j:
        return f"an option of {name} (options of an interpreter can run code)"
    if target == j:
        return f"the script {name} runs (the value would choose the code)"
    return None


def _program_text(words, i, target, name, file_options, code_options, short_args, hint):
    """awk, sed: the first operand is a program unless a file or code
    option gives it; a value in program position is code."""
    j, given = i + 1, False
    while j < len(words):
        w = words[j]
        if w == "--":
            j += 1
            break
        if not w.startswith("-") or w == "-":
            break
        key, eq, _ = w.partition("=")
        attached = len(w) > 2 and not w.startswith("--") and w[:2] in file_options | code_options
        flag = w[:2] if attached else key
        if flag in file_options | code_options:
            arg = j if eq or attached else j + 1
            if target == arg:
                return f"{'a program file' if flag in file_options else 'program text'} of {name} ({hint})"
            given = True
            j = arg + 1
            continue
        if name.endswith("awk") and flag in ("-v", "--assign"):
            arg = j if eq or len(w) > 2 else j + 1
            if target == arg:
                return f"an {name} -v assignment, where {name} processes backslash escapes ({hint})"
            j = arg + 1
            continue
        j += 2 if flag in short_args and not eq and len(w) == 2 else 1
    if not given:
        if target == j:
            return f"the program text of {name} ({hint})"
        j += 1
    if name.endswith("awk") and target >= j and ASSIGNMENT_RE.match(words[target]):
        return f"an {name} operand assignment, where {name} processes backslash escapes ({hint})"
    return None


def _awk(words, i, target, functions):
    return _program_text(words, i, target, _name(words[i]), {"-f", "--file", "-E", "--exec", "-i", "--include",
                                                              "-l", "--load"}, {"-e", "--source"}, {"-F"},
                         "pass the value after the program and read it from ARGV")


def _sed(words, i, target, functions):
    return _program_text(words, i, target, "sed", {"-f", "--file"}, {"-e", "--expression"}, {"-l"},
                         "a sed script can run commands; match it in a program that treats it as data")


def _source(words, i, target, functions):
    return f"the file {words[i]} runs as shell code" if target == i + 1 else None


def _ssh(words, i, target, functions):
    j = i + 1
    while j < len(words) and words[j].startswith("-") and words[j] != "--":
        w = words[j]
        for k, letter in enumerate(w[1:], 1):
            if letter in "BbcDEeFIiJLlmOoPpQRSWw":
                arg = j if k < len(w) - 1 else j + 1
                if letter in "oF" and target == arg:
                    return "an ssh option or config file (ProxyCommand and LocalCommand run commands)"
                j = arg
                break
        j += 1
    j += 1 if j < len(words) and words[j] == "--" else 0
    if target > j:
        return "part of the command ssh sends to the remote shell, which parses it again"
    return None


def _remote(words, i, target, functions):
    """kubectl/oc exec, debug, run: the words after -- are a command of their own."""
    if "--" in words[i + 1:]:
        dashes = words.index("--", i + 1)
        if target > dashes:
            return _command(words, dashes + 1, target, functions)
    return None


CONTAINER_ARGS = {"-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file", "--detach-keys", "-v", "--volume",
                  "-p", "--publish", "--name", "--network", "--net", "-m", "--memory", "-h", "--hostname", "-l",
                  "--label", "--mount", "--platform", "--pull", "--restart", "--add-host", "--device", "--dns",
                  "--cpus", "--cap-add", "--cap-drop", "--security-opt", "--ulimit", "--shm-size", "--tmpfs",
                  "--runtime", "--gpus", "--pid", "--ipc", "--userns", "--volumes-from", "--log-driver", "--log-opt",
                  "-a", "--attach", "--entrypoint", "--health-cmd"}


def _container(words, i, target, functions):
    """docker/podman exec or run: options, a container or image, then a command."""
    sub = next((k for k in range(i + 1, len(words)) if words[k] in ("exec", "run", "create")), None)
    if sub is None or target <= sub:
        return None
    j = sub + 1
    while j < len(words) and words[j].startswith("-"):
        key, eq, _ = words[j].partition("=")
        arg = j if eq else j + 1
        if key in CONTAINER_ARGS and target == arg and key in ("--entrypoint", "--health-cmd"):
            return f"the {key[2:]} of the container, which runs it as a command"
        j = arg + 1 if key in CONTAINER_ARGS else j + 1
    if target > j:
        return _command(words, j + 1, target, functions)
    return None


def _find(words, i, target, functions):
    j = i + 1
    while j < len(words):
        if words[j] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((k for k in range(j + 1, len(words)) if words[k] in (";", "+")), len(words))
            if j < target < end:
                return _command(words[:end], j + 1, target, functions)
            j = end
        j += 1
    return None


def _declarer(words, i, target, functions):
    if ASSIGNMENT_RE.match(words[target]) and "{{" not in words[target].split("=", 1)[0]:
        return None                    # export NAME={{ value }}: the value is data
    return f"a variable name for {words[i]} (bash evaluates array subscripts in a name)"


def _reader(words, i, target, functions):
    if words[target - 1] in ("-p", "-d", "-t", "-n", "-N", "-u", "-i", "-C", "-c", "-s", "-O"):
        return None
    return f"a variable name for {words[i]} (bash evaluates array subscripts in a name)"


def _after_flag(flags, reason):
    def check(words, i, target, functions):
        return reason if words[target - 1] in flags else None
    return check


SPECIAL = {
    "awk": _awk, "gawk": _awk, "mawk": _awk, "nawk": _awk, "sed": _sed, "gsed": _sed,
    "source": _source, ".": _source, "ssh": _ssh, "kubectl": _remote, "oc": _remote,
    "docker": _container, "podman": _container, "nerdctl": _container, "find": _find,
    "printf": _after_flag({"-v"}, "a variable name for printf -v (bash evaluates array subscripts in a name)"),
    "test": _after_flag({"-v", "-R"}, "a variable name for test -v (bash evaluates array subscripts in it)"),
    "[": _after_flag({"-v", "-R"}, "a variable name for [ -v (bash evaluates array subscripts in it)"),
    "git": _after_flag({"-c", "--config-env"}, "a git configuration value (core.sshCommand, aliases and hooks "
                                                "run commands)"),
    "rsync": _after_flag({"-e", "--rsh"}, "the remote shell command of rsync"),
    "scp": _after_flag({"-o", "-S", "-F"}, "an scp option that can run a program"),
    **dict.fromkeys(DECLARERS, _declarer), **dict.fromkeys(READERS, _reader),
}


# --- programs that read code from their standard input ------------------------------------

def reads_program_from_stdin(words):
    """A phrase naming the program when this command runs what arrives on
    its standard input as code (bash, python3, source /dev/stdin, xargs sh,
    ssh host with no command), else None."""
    i = _skip_assignments(words, 0)
    while i < len(words) and _name(words[i]) in WRAPPERS and _name(words[i]) != "xargs":
        nxt = _wrapper(words, i, len(words), _name(words[i]))
        if not isinstance(nxt, int):
            return f"{words[i]}, which runs its input through a shell" if isinstance(nxt, str) else None
        i = _skip_assignments(words, nxt)
    if i >= len(words):
        return None
    name = _name(words[i])
    rest = words[i + 1:]
    operands = [w for w in rest if not w.startswith("-") or w == "-"]
    if name in ("xargs", "parallel"):
        k = _wrapper(words, i, len(words), "xargs")
        inner = _name(words[k]) if isinstance(k, int) else ""
        if name == "parallel" or is_code_runner(inner) or inner in ("xargs", "parallel"):
            return f"{name}, which passes its input to {inner or 'a shell'}"
        return None
    if name in SHELLS:
        if any(w.startswith("-") and not w.startswith("--") and "c" in w[1:] for w in rest):
            return None
        if any(w.startswith("-") and not w.startswith("--") and "s" in w[1:] for w in rest):
            return f"{name}, which runs its input as shell code"
        return f"{name}, which runs its input as shell code" if not operands or operands[0] in STDIN_FILES else None
    spec = _interpreter(name)
    if spec:
        if any(w.startswith("-") and not w.startswith("--") and set(w[1:]) & set(spec[1] + spec[4]) for w in rest):
            return None
        return f"{name}, which runs its input as code" if not operands or operands[0] in STDIN_FILES else None
    if name in ("source", ".") and rest and rest[0] in STDIN_FILES:
        return f"{name} {rest[0]}, which runs its input as shell code"
    if name in ("su", "runuser", "at", "batch", "crontab", "eval"):
        return f"{name}, which runs its input as shell code"
    if name == "ssh":
        remote = " ".join(rest[_ssh_destination(rest) + 1:]).split()
        if not remote:
            return "ssh with no command, whose remote shell runs its input as code"
        return reads_program_from_stdin(remote)
    if name in ("kubectl", "oc") and "--" in rest:
        return reads_program_from_stdin(rest[rest.index("--") + 1:])
    if name in ("awk", "gawk", "mawk", "nawk", "sed") and any(
            a in ("-f", "--file", "--from-file") and b in STDIN_FILES for a, b in zip(rest, rest[1:])):
        return f"{name} -f {rest[-1]}, which runs its input as a program"
    return None


def _ssh_destination(rest):
    j = 0
    while j < len(rest) and rest[j].startswith("-"):
        j += 2 if rest[j][-1] in "BbcDEeFIiJLlmOoPpQRSWw" and len(rest[j]) == 2 else 1
    return j
