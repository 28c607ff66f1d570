"""Where a shell step runs: as the step user (never the worker's), in a clean
environment with a HOME and working directory of its own that is removed
afterwards, under resource limits, and, where Linux namespaces work, inside a
bubblewrap sandbox that sees only its own processes and its own directory.

The worker runs as root only to hand each step to the step user with setpriv
(as StackStorm hands its commands to its `stanley` user): no groups, no
capabilities, no_new_privs."""
import functools
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

CREDENTIAL_NAME_RE = re.compile(r"[A-Z_][A-Z0-9_]*")
FILE_SUFFIX = ".file"       # credentials/<queue>/KUBECONFIG.file -> a file; the variable holds its path
SIZE_RE = re.compile(r"(\d+)\s*([kmgt]?)i?b?", re.IGNORECASE)
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
MASK = "****"


class SandboxError(Exception):
    """The step cannot be run behind the boundary (no step user, no sandbox): it never
    runs with the worker's own powers instead."""


# --- limits -------------------------------------------------------------------

def parse_size(text):
    """'512m', '2G', '100MiB', '1048576' -> bytes."""
    if isinstance(text, int):
        return text
    match = SIZE_RE.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"cannot read the size {text!r}: use a number with k, m, g or t, e.g. 512m")
    return int(match.group(1)) * SIZE_UNITS[match.group(2).lower()]


def format_size(size):
    for unit in ("t", "g", "m", "k"):
        if size >= SIZE_UNITS[unit] and size % SIZE_UNITS[unit] == 0:
            return f"{size // SIZE_UNITS[unit]} {unit.upper()}B"
    return f"{size} bytes"


@dataclass(frozen=True)
class Limits:
    memory: int          # bytes of address space per process (RLIMIT_AS)
    processes: int       # processes of the step user at once (RLIMIT_NPROC)
    file_size: int       # bytes, the largest file a step may write (RLIMIT_FSIZE)

    def prlimit_args(self):
        return [f"--as={self.memory}", f"--nproc={self.processes}", f"--fsize={self.file_size}", "--core=0"]


def limits_for(step):
    """The step's own attributes, else its queue's (RUNBOOK_QUEUE_LIMITS), else the defaults."""
    queue_limits = settings.RUNBOOK_QUEUE_LIMITS.get(step.queue or settings.CELERY_TASK_DEFAULT_QUEUE, {})

    def pick(name, default, convert):
        value = getattr(step, name, None)
        if value in (None, ""):
            value = queue_limits.get(name, default)
        return convert(value)

    return Limits(memory=pick("memory", settings.RUNBOOK_STEP_MEMORY, parse_size),
                  processes=pick("processes", settings.RUNBOOK_STEP_PROCESSES, int),
                  file_size=pick("file_size", settings.RUNBOOK_STEP_FILE_SIZE, parse_size))


def limit_exceeded(limits, exit_code, output):
    """Name the limit a failed step ran into, or ''. The kernel says it for the file
    size (SIGXFSZ); fork and allocation failures are read from what the step printed."""
    if exit_code in (128 + signal.SIGXFSZ, -signal.SIGXFSZ):
        return f"exceeded the file size limit of {format_size(limits.file_size)}"
    tail = output[-4000:]
    if re.search(r"fork: (retry: )?Resource temporarily unavailable|BlockingIOError|"
                 r"can't fork|Cannot fork|Resource temporarily unavailable", tail):
        return f"exceeded the process limit of {limits.processes} processes"
    if re.search(r"Cannot allocate memory|MemoryError|xmalloc|out of memory|bad_alloc|"
                 r"Cannot allocate|memory exhausted", tail, re.IGNORECASE):
        return f"exceeded the memory limit of {format_size(limits.memory)}"
    return ""


# --- who runs it --------------------------------------------------------------

@dataclass(frozen=True)
class StepUser:
    name: str
    uid: int
    gid: int


def step_user():
    name = settings.RUNBOOK_STEP_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise SandboxError(f"the step user {name!r} does not exist on this worker: create it "
                           f"(useradd --system --no-create-home --shell /usr/sbin/nologin {name}) or set "
                           "RUNBOOK_STEP_USER") from None
    if entry.pw_uid == 0 or entry.pw_uid == os.geteuid():
        raise SandboxError(f"the step user {name!r} must be an unprivileged user other than the worker's")
    return StepUser(name, entry.pw_uid, entry.pw_gid)


def switch_user(user):
    """The argv prefix that drops to the step user with no capabilities left."""
    if os.geteuid() != 0:
        raise SandboxError(f"the worker must run as root to hand steps to the step user {user.name!r} "
                           "(it runs nothing else as root); see docs/operations.md")
    # --pdeathsig: the step's leader dies with the worker process that started it (bwrap,
    # when used, takes every process of the step with it: --die-with-parent, its own pid namespace).
    return ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--pdeathsig=KILL", "--"]


# --- credentials ----------------------------------------------------------------

@dataclass(frozen=True)
class Credential:
    name: str
    value: str
    is_file: bool


def queue_name(step):
    return step.queue or settings.CELERY_TASK_DEFAULT_QUEUE


def credentials_for(queue):
    """The credentials an admin attached to a queue: files in
    RUNBOOK_CREDENTIALS_DIR/<queue>/ on the worker, readable only by the worker.
    NAME holds a value given to the step as $NAME; NAME.file is copied into the
    step's directory and $NAME holds its path (a kubeconfig, a key)."""
    folder = Path(settings.RUNBOOK_CREDENTIALS_DIR) / queue
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", queue) or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        is_file = path.name.endswith(FILE_SUFFIX)
        name = path.name[:-len(FILE_SUFFIX)] if is_file else path.name
        if path.name.startswith(".") or not path.is_file():
            continue
        if not CREDENTIAL_NAME_RE.fullmatch(name):
            log.warning("credential %s ignored: its name must be an environment variable name (A-Z, 0-9, _)", path)
            continue
        text = path.read_text()
        found.append(Credential(name, text if is_file else text.strip(), is_file))
    return found


def mask(text, hidden):
    """text with every hidden value (credentials, secret parameters) shown as ****.
    A multi-line value (a kubeconfig) is also masked line by line where a line is long
    enough to hold key material, so printing part of the file hides it too."""
    for value in mask_values(hidden):
        text = text.replace(value, MASK)
    return text


def mask_values(hidden):
    """What mask() replaces, longest first (live_output.py masks piece by piece with it)."""
    values = set()
    for value in hidden:
        value = (value or "").strip()
        if value:
            values.add(value)
            values.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 16)
    return sorted(values, key=len, reverse=True)


# --- isolation ------------------------------------------------------------------

def _bwrap_args(workdir, hidden, shared):
    args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp",
            "--tmpfs", "/dev/shm"]
    for path in hidden:
        args += ["--tmpfs", str(path)]
    args += ["--tmpfs", str(workdir.parent), "--bind", str(workdir), str(workdir)]
    for path in shared:
        args += ["--bind", str(path), str(path)]
    return [*args, "--chdir", str(workdir), "--"]


@functools.lru_cache(maxsize=4)
def _namespaces_work(user):
    """Can the step user start a bubblewrap sandbox here? (A container without
    user namespaces cannot; the step then relies on its user's permissions alone.)"""
    try:
        probe = subprocess.run([*switch_user(user), "bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc",
                                "--dev", "/dev", "true"], capture_output=True, timeout=20,
                               env={"PATH": settings.RUNBOOK_STEP_PATH})
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("bubblewrap is not usable for steps (%s): steps run as %s without namespaces", exc, user.name)
        return False
    if probe.returncode:
        log.warning("bubblewrap is not usable for steps (%s): steps run as %s without namespaces",
                    probe.stderr.decode(errors="replace").strip(), user.name)
    return probe.returncode == 0


def isolation(user):
    """'namespaces' (bubblewrap) or 'user' (the step user's permissions only)."""
    wanted = settings.RUNBOOK_STEP_ISOLATION
    if wanted == "user":
        return "user"
    works = _namespaces_work(user)
    if wanted == "namespaces" and not works:
        raise SandboxError("RUNBOOK_STEP_ISOLATION=namespaces but bubblewrap cannot start a sandbox on this worker")
    return "namespaces" if works else "user"


# --- one step -------------------------------------------------------------------

class Sandbox:
    """with Sandbox(step, params_env) as box: Popen(box.argv(script), env=box.env, cwd="/")."""

    def __init__(self, step, params_env, hidden_values=()):
        self.step = step
        self.user = step_user()
        self.switch = switch_user(self.user)
        self.limits = limits_for(step)
        self.credentials = credentials_for(queue_name(step))
        self.params_env = dict(params_env)
        self.hidden = [*hidden_values, *(c.value for c in self.credentials)]
        self.mode = isolation(self.user)
        self.workdir = None
        self.env = {}

    @property
    def credential_names(self):
        return [c.name for c in self.credentials]

    def __enter__(self):
        root = Path(settings.RUNBOOK_STEP_ROOT)
        # Others may pass through to their own directory but not list the others: 0711.
        root.mkdir(parents=True, exist_ok=True)
        if root.stat().st_mode & 0o7777 != 0o711:
            root.chmod(0o711)
        self.workdir = root / secrets.token_hex(16)
        self._mkdir_owned(self.workdir)
        tmp = self.workdir / ".tmp"
        self._mkdir_owned(tmp)
        env = {"PATH": settings.RUNBOOK_STEP_PATH, "LANG": settings.RUNBOOK_STEP_LANG, "HOME": str(self.workdir),
               "USER": self.user.name, "LOGNAME": self.user.name, "SHELL": "/bin/bash",
               "TMPDIR": "/tmp" if self.mode == "namespaces" else str(tmp)}
        env.update(self.params_env)
        for credential in self.credentials:
            if credential.is_file:
                env[credential.name] = str(self._write_credential_file(credential))
            else:
                env[credential.name] = credential.value
        self.env = env
        return self

    def __exit__(self, *exc):
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def argv(self, script):
        prefix = ["prlimit", *self.limits.prlimit_args(), "--", *self.switch]
        if self.mode == "namespaces":
            hidden = [p for p in self._hidden_paths() if p.exists()]
            prefix += _bwrap_args(self.workdir, hidden, self._shared_paths())
        else:
            # Enter the directory as the step user: the worker's user may not (0700, not its own).
            prefix += ["env", "-C", str(self.workdir)]
        return [*prefix, "bash", "--noprofile", "--norc", "-c", script]

    # Paths no step may read, even where their permissions slip (bubblewrap mounts an empty directory on them).
    @staticmethod
    def _hidden_paths():
        paths = [Path(settings.DATA_DIR), *map(Path, settings.RUNBOOK_STEP_HIDDEN_PATHS)]
        return [p.resolve() for p in paths if str(p)]

    @staticmethod
    def _shared_paths():
        return [Path(p) for p in settings.RUNBOOK_STEP_SHARED_DIRS if p and Path(p).is_dir()]

    def _mkdir_owned(self, path):
        path.mkdir(mode=0o700)
        os.chown(path, self.user.uid, self.user.gid)

    def _write_credential_file(self, credential):
        folder = self.workdir / ".credentials"
        if not folder.exists():
            self._mkdir_owned(folder)
        path = folder / credential.name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w") as f:
            f.write(credential.value)
        os.chown(path, self.user.uid, self.user.gid)
        return path
