"""The step sandbox: the step user, a clean environment, a directory of its own,
limits, credentials; in-process and with a real Celery worker."""
import os
import pwd
import secrets
import threading
import time
from pathlib import Path

import pytest

from ops_console.runbooks import executors, sandbox
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.executors import StepContext
from ops_console.runbooks.models import StepRun
from tests.waiting import wait_until

from .builders import shell, start

ALLOWED_ENV = {"PATH", "LANG", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "PWD", "SHLVL", "_"}
ISOLATIONS = ["namespaces", "user"]


def run(s, values=None, **kw):
    return executors.get(s.kind).execute(StepContext(s, values or {}, **kw))


def step_user_processes():
    """Command lines of the step user's processes still alive (zombies aside)."""
    uid = pwd.getpwnam("opsrunner").pw_uid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if f"Uid:\t{uid}\t" not in status or "State:\tZ" in status:
                continue
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


@pytest.fixture(params=ISOLATIONS)
def isolation(request, settings):
    settings.RUNBOOK_STEP_ISOLATION = request.param
    return request.param


@pytest.fixture
def data_dir(settings):
    """A data directory as the standalone makes it: 0700, the secret key inside."""
    path = Path(f"/var/tmp/ops-console-test-data-{secrets.token_hex(6)}")
    path.mkdir(mode=0o700)
    (path / "secret_key").write_text("the-console-secret-key-value")
    (path / "secret_key").chmod(0o600)
    settings.DATA_DIR = path
    yield path
    sandbox.shutil.rmtree(path, ignore_errors=True)


# --- pure parts --------------------------------------------------------------------

@pytest.mark.parametrize("text, size", [("512m", 512 * 1024 ** 2), ("2G", 2 * 1024 ** 3), ("100MiB", 100 * 1024 ** 2),
                                        ("1048576", 1048576), ("4k", 4096)])
def test_sizes_read_with_units(text, size):
    assert sandbox.parse_size(text) == size


def test_an_unreadable_size_says_how_to_write_one():
    with pytest.raises(ValueError, match="512m"):
        sandbox.parse_size("lots")


def test_limits_come_from_the_queue_then_the_defaults(settings):
    settings.RUNBOOK_STEP_MEMORY, settings.RUNBOOK_STEP_PROCESSES, settings.RUNBOOK_STEP_FILE_SIZE = "1g", 100, "10m"
    settings.RUNBOOK_QUEUE_LIMITS = {"production": {"memory": "4g", "processes": 512}}
    assert sandbox.limits_for(shell("true")) == sandbox.Limits(1024 ** 3, 100, 10 * 1024 ** 2)
    assert sandbox.limits_for(shell("true", queue="production")) == sandbox.Limits(4 * 1024 ** 3, 512, 10 * 1024 ** 2)


def test_mask_hides_every_value_longest_first():
    assert sandbox.mask("token=abc123 and abc", ["abc123", "abc", ""]) == "token=**** and ****"


def test_mask_hides_long_lines_of_a_file_credential():
    kubeconfig = "apiVersion: v1\nusers:\n- token: eyJhbGciOiJSUzI1NiIsImtpZCI6\n"
    assert sandbox.mask("- token: eyJhbGciOiJSUzI1NiIsImtpZCI6\nv1\n", [kubeconfig]) == "****\nv1\n"


@pytest.mark.parametrize("code, output, named", [
    (153, "", "file size limit"), (1, "BlockingIOError: [Errno 11] Resource temporarily unavailable", "process limit"),
    (2, "bash: fork: retry: Resource temporarily unavailable", "process limit"), (1, "MemoryError", "memory limit"),
    (1, "plain failure", ""),
])
def test_the_limit_a_failure_ran_into_is_named(code, output, named):
    limits = sandbox.Limits(1024 ** 3, 64, 1024 ** 2)
    assert (named in sandbox.limit_exceeded(limits, code, output)) if named else not sandbox.limit_exceeded(
        limits, code, output)


def test_credentials_are_files_per_queue(tmp_path, settings):
    settings.RUNBOOK_CREDENTIALS_DIR = str(tmp_path)
    (tmp_path / "production").mkdir()
    (tmp_path / "production" / "API_TOKEN").write_text("tok-123\n")
    (tmp_path / "production" / "KUBECONFIG.file").write_text("apiVersion: v1\n")
    (tmp_path / "production" / "not-a-name").write_text("ignored")
    (tmp_path / "production" / ".hidden").write_text("ignored")
    found = sandbox.credentials_for("production")
    assert [(c.name, c.value, c.is_file) for c in found] == [("API_TOKEN", "tok-123", False),
                                                             ("KUBECONFIG", "apiVersion: v1\n", True)]
    assert sandbox.credentials_for("staging") == [] and sandbox.credentials_for("../production") == []


# --- in-process, real subprocesses ---------------------------------------------------

@pytest.mark.integration
def test_a_step_runs_as_the_step_user_with_a_clean_environment(isolation, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "do-not-leak-key")
    monkeypatch.setenv("REDIS_URL", "redis://:do-not-leak-redis@127.0.0.1/0")
    monkeypatch.setenv("VENDOR_SETTING", "do-not-leak-vendor")
    outcome = run(shell("id -u; env; cat /proc/$PPID/environ | tr '\\0' '\\n'; : {{ ns }}", params=["ns"]),
                  values={"ns": "kube-system"})
    lines = outcome.output.splitlines()
    assert int(lines[0]) == pwd.getpwnam("opsrunner").pw_uid != os.geteuid()
    names = {line.split("=", 1)[0] for line in lines[1:] if "=" in line}
    assert names - ALLOWED_ENV == {"PARAM_ns"}
    assert "PARAM_ns=kube-system" in lines
    for secret in ("do-not-leak-key", "do-not-leak-redis", "do-not-leak-vendor"):
        assert secret not in outcome.output


@pytest.mark.integration
def test_a_step_cannot_read_or_change_the_data_directory(isolation, data_dir):
    outcome = run(shell(f"cat {data_dir}/secret_key; ls -a {data_dir}; touch {data_dir}/pwned; "
                        f"echo x > {data_dir}/secret_key; echo done"))
    assert outcome.output.rstrip().endswith("done")
    assert "the-console-secret-key-value" not in outcome.output
    assert sorted(p.name for p in data_dir.iterdir()) == ["secret_key"]
    assert (data_dir / "secret_key").read_text() == "the-console-secret-key-value"


@pytest.mark.integration
def test_home_is_the_steps_own_and_removed_afterwards(isolation, settings):
    outcome = run(shell("echo $HOME; pwd; touch made-here; ls"))
    home, cwd, listing = outcome.output.split()
    assert home == cwd and listing == "made-here"
    assert Path(home).parent == Path(settings.RUNBOOK_STEP_ROOT)
    assert not Path(home).exists()


@pytest.mark.integration
def test_a_step_cannot_see_another_steps_directory_or_processes(settings, step_shared_dir):
    settings.RUNBOOK_STEP_ISOLATION = "namespaces"
    first = threading.Thread(target=run, args=(shell(
        f"echo private > mine; echo $HOME > {step_shared_dir}/home; sleep 3", timeout=10),))
    first.start()
    wait_until(lambda: (step_shared_dir / "home").exists() and (step_shared_dir / "home").read_text(), 10,
               message="the first step")
    other_home = (step_shared_dir / "home").read_text().strip()
    outcome = run(shell(f"cat {other_home}/mine 2>/dev/null; echo dirs: $(ls {settings.RUNBOOK_STEP_ROOT}); "
                        "echo home: $(basename $HOME); echo sleeping: $(ps -e -o comm= | grep -c sleep)"))
    first.join()
    seen = dict(line.split(": ", 1) for line in outcome.output.splitlines())
    assert "private" not in outcome.output
    assert seen["dirs"] == seen["home"] != os.path.basename(other_home)
    assert seen["sleeping"] == "0"


@pytest.mark.integration
def test_a_timed_out_step_loses_its_whole_process_group(isolation):
    started = time.monotonic()
    outcome = run(shell("sleep 300 & sleep 301 & echo started; sleep 302", timeout=1))
    assert time.monotonic() - started < 10
    assert not outcome.ok and "timed out after 1s" in outcome.error and outcome.output == "started\n"
    wait_until(lambda: not [c for c in step_user_processes() if "sleep 30" in c], 5,
               message="the step's processes to end")


@pytest.mark.integration
@pytest.mark.parametrize("body, limit", [
    ("head -c 5000000 /dev/zero > big", "file size limit of 1 MB"),
    ("python3 -c 'x = bytearray(512 * 1024 ** 2)'", "memory limit of 256 MB"),
    ("python3 -c 'import os, time\nfor i in range(100):\n    if os.fork() == 0: time.sleep(2); os._exit(0)'",
     "process limit of 20 processes"),
])
def test_a_step_over_a_limit_fails_with_the_limit_named(isolation, settings, body, limit):
    settings.RUNBOOK_QUEUE_LIMITS = {"small": {"memory": "256m", "processes": 20, "file_size": "1m"}}
    outcome = run(shell(body, queue="small"))
    assert not outcome.ok and outcome.permanent
    assert limit in outcome.error


@pytest.mark.integration
def test_credentials_reach_only_their_queue_masked_and_reported(isolation, tmp_path, settings):
    settings.RUNBOOK_CREDENTIALS_DIR = str(tmp_path)
    (tmp_path / "production").mkdir()
    (tmp_path / "production" / "API_TOKEN").write_text("tok-very-secret-1")
    (tmp_path / "production" / "KUBECONFIG.file").write_text("kube-secret-2\n")
    used = []
    body = 'echo "token=$API_TOKEN"; cat "$KUBECONFIG"; stat -c %a "$KUBECONFIG"'
    outcome = run(shell(body, queue="production"), credentials_used=lambda queue, names: used.append((queue, names)))
    assert outcome.ok, outcome.error
    assert outcome.output == "token=****\n****\n400\n"
    assert used == [("production", ["API_TOKEN", "KUBECONFIG"])]
    elsewhere = run(shell(body, queue="staging"), credentials_used=lambda queue, names: used.append(queue))
    assert elsewhere.output.startswith("token=\n") and len(used) == 1


@pytest.mark.integration
def test_secret_values_are_masked_in_output(isolation):
    outcome = run(shell("echo {{ password }} | rev; echo {{ password }}", params=["password"]),
                  values={"password": "hunter2-long"}, hidden=["hunter2-long"])
    assert outcome.output == "gnol-2retnuh\n****\n"


@pytest.mark.integration
def test_a_missing_step_user_runs_nothing(settings, step_shared_dir):
    settings.RUNBOOK_STEP_USER = "no-such-user-here"
    with pytest.raises(executors.StepError, match="does not exist"):
        run(shell(f"touch {step_shared_dir}/ran"))
    assert not (step_shared_dir / "ran").exists()


def test_the_step_user_may_not_be_the_workers(settings):
    settings.RUNBOOK_STEP_USER = pwd.getpwuid(os.geteuid()).pw_name
    with pytest.raises(sandbox.SandboxError, match="other than the worker"):
        sandbox.step_user()


# --- with a real Celery worker ------------------------------------------------------

@pytest.mark.integration
def test_with_a_real_worker_a_step_sees_no_secret_and_changes_nothing(worker_control, responder, data_dir):
    worker = worker_control.start(extra_env={"OPS_CONSOLE_DATA_DIR": str(data_dir),
                                             "EMAIL_HOST_PASSWORD": "smtp-password-not-leaked"})
    worker_pid = worker.pid
    run_ = start(
        shell("id -u"), shell("env"), shell("cat /proc/$PPID/environ | tr '\\0' '\\n'; echo"),
        shell(f"cat {data_dir}/secret_key; echo"), shell(f"touch {data_dir}/pwned; echo > {data_dir}/secret_key; echo"),
        shell(f"cat /proc/{worker_pid}/environ; echo"),
        actor=responder)
    wait_until(lambda: run_.steps.filter(status__in=StepRun.FINISHED).count() == 6, 30, message="the six steps")
    steps = list(run_.steps.order_by("index"))
    assert int(steps[0].output) == pwd.getpwnam("opsrunner").pw_uid != os.geteuid()
    everything = "".join(s.output for s in steps)
    for secret in (os.environ["SECRET_KEY"], os.environ["REDIS_URL"], os.environ["DATABASE_URL"],
                   "smtp-password-not-leaked", "the-console-secret-key-value"):
        assert secret not in everything
    # The worker itself keeps files there (the audit chain's key); the step added none.
    assert "pwned" not in {p.name for p in data_dir.iterdir()}
    assert (data_dir / "secret_key").read_text() == "the-console-secret-key-value"
    if (data_dir / "audit_chain_key").exists():
        assert (data_dir / "audit_chain_key").read_text().strip() not in everything


@pytest.mark.integration
def test_a_step_cannot_use_the_consoles_database_or_broker(isolation, settings):
    from urllib.parse import urlsplit

    db, broker = settings.DATABASES["default"], urlsplit(settings.REDIS_URL)
    query = "select 'leaked-' || 42"
    outcome = run(shell(f"psql -h 127.0.0.1 -p {db['PORT']} -U {db['USER']} -w -d {db['NAME']} -c \"{query}\"; "
                        f"redis-cli -h 127.0.0.1 -p {broker.port} keys '*'"))
    assert "password" in outcome.output and "leaked-42" not in outcome.output
    assert "NOAUTH" in outcome.output
