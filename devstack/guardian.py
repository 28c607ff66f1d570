"""Clean-up that outlives a killed parent. The chaos run, the test runner and
the standalone start their processes in sessions of their own (so a Ctrl-C in
the terminal reaches the parent only, which stops them in order) and PostgreSQL
through pg_ctl (which detaches it). A parent killed with SIGKILL cannot stop
them: they would run on, unowned, sharing the machine with whatever comes next.

The guardian is a small process that reads the parent's instructions on a pipe
only the parent holds: "group PGID" (a process group to stop), "forget PGID",
"postgres PGDATA" (a cluster to stop), "remove PATH" (a directory to delete
afterwards), "done" (the parent cleaned up itself).
When the pipe closes without "done", the parent died: it sends SIGTERM to every
group it was told of, SIGKILL to what is left after a grace period, and stops
each cluster with `pg_ctl stop -m immediate`, then deletes the directories.

    python3 -m devstack.guardian  (started by Guardian below; not by hand)"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE = 5.0  # seconds between SIGTERM and SIGKILL
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


class Guardian:
    """The parent's end: start() once, then tell it what to clean up."""

    def __init__(self):
        self.popen, self._pipe = None, None

    def start(self):
        read, write = os.pipe()  # both ends close-on-exec: no other child holds the write end
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "devstack.guardian"], stdin=read, cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True)  # a Ctrl-C in the terminal does not reach it
        os.close(read)
        self._pipe = os.fdopen(write, "w", buffering=1)
        return self

    def tell(self, *words):
        if self._pipe is None:
            return
        try:
            self._pipe.write(" ".join(str(word) for word in words) + "\n")
        except (BrokenPipeError, ValueError):  # the guardian is gone, or we closed: nothing to guard
            self._pipe = None

    def group(self, pgid):
        self.tell("group", pgid)

    def forget(self, pgid):
        self.tell("forget", pgid)

    def postgres(self, pgdata):
        self.tell("postgres", pgdata)

    def remove(self, path):
        self.tell("remove", path)

    def done(self):
        """We cleaned up ourselves: the guardian leaves without acting."""
        self.tell("done")
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self.popen is not None:
            self.popen.wait(10)


def _alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def clean_up(groups, clusters, paths=(), grace=GRACE):
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pgid) for pgid in groups):
        time.sleep(0.1)
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pgdata in clusters:
        argv = [PG_CTL, "-D", pgdata, "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def main(lines, grace=GRACE):
    groups, clusters, paths = [], [], []
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word == "done":
            return 0
        if word == "group":
            groups.append(int(rest))
        elif word == "forget" and int(rest) in groups:
            groups.remove(int(rest))
        elif word == "postgres":
            clusters.append(rest)
        elif word == "remove":
            paths.append(rest)
    clean_up(groups, clusters, paths, grace)  # the pipe closed without "done": the parent died
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(main(sys.stdin))
