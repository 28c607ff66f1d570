import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from devstack import guardian
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]

# A parent that starts a long-lived child in a session of its own (as every devstack
# process is started), tells its guardian, prints what it made and waits to be killed.
PARENT = textwrap.dedent("""
    import sys, time
    from devstack import services
    g = services.guard()
    g.remove(sys.argv[1])
    child = services.Process("sleeper", ["sleep", "300"]).start()
    if sys.argv[2] == "clean":
        child.stop()
        g.done()
    print(child.pid, g.popen.pid, flush=True)
    time.sleep(300)
""")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not reaped yet by init) counts as gone.
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


def start_parent(tmp_path, how):
    scratch = Path(tempfile.mkdtemp(dir=tmp_path))
    (scratch / "file").write_text("left behind")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(scratch), how], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    child, guard = map(int, parent.stdout.readline().split())
    return parent, child, guard, scratch


@pytest.mark.integration
def test_a_parent_killed_outright_leaves_no_process_or_directory_behind(tmp_path):
    parent, child, guard, scratch = start_parent(tmp_path, "killed")
    try:
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        wait_until(lambda: not alive(child), timeout=10, message="the orphaned child stopped")
        wait_until(lambda: not scratch.exists(), timeout=10, message="the parent's directory removed")
        wait_until(lambda: not alive(guard), timeout=10, message="the guardian left")
    finally:
        for pid in (child, guard):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.integration
def test_a_parent_that_cleaned_up_itself_leaves_the_guardian_nothing_to_do(tmp_path):
    parent, child, guard, scratch = start_parent(tmp_path, "clean")
    try:
        wait_until(lambda: not alive(guard), timeout=10, message="the guardian left at done()")
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert scratch.exists()  # done() means: leave everything as it is
    finally:
        parent.kill()


def test_forgotten_groups_are_not_signalled_and_a_child_ignoring_sigterm_gets_sigkill():
    ignoring = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                                 "signal.SIG_IGN); print(1, flush=True); time.sleep(300)"],
                                start_new_session=True, stdout=subprocess.PIPE, text=True)
    forgotten = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        ignoring.stdout.readline()  # its handler is in place
        lines = [f"group {ignoring.pid}\n", f"group {forgotten.pid}\n", f"forget {forgotten.pid}\n"]
        assert guardian.main(iter(lines), grace=0.5) == 0  # the pipe ended without "done"
        assert ignoring.wait(5) == -signal.SIGKILL
        assert forgotten.poll() is None
    finally:
        ignoring.kill()
        forgotten.kill()
