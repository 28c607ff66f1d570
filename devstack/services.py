"""Start and stop the real services (Redis, PostgreSQL, Prometheus,
Alertmanager, the console's own processes) on 127.0.0.1 with data directories
of our own. Used by the standalone runner, the test runner and test fixtures."""
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Set by guard(): told of every process group and cluster started here, it stops them if we are killed.
GUARDIAN = None


def guard():
    """Start the guardian (devstack/guardian.py) for this process; returns it. Call its done() after
    stopping everything yourself."""
    global GUARDIAN
    from devstack.guardian import Guardian

    GUARDIAN = Guardian().start()
    return GUARDIAN


def _tell_guardian(*words):
    if GUARDIAN is not None:
        GUARDIAN.tell(*words)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout}s")


def http_ok(url):
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


class Process:
    """A child process in its own process group, so stopping it also stops
    whatever it forked (Celery's pool, gunicorn's workers)."""

    def __init__(self, name, argv, env=None, cwd=None, log=None):
        self.name, self.argv, self.env, self.cwd, self.log = name, argv, env, cwd, log
        self.popen = None

    def start(self):
        out = open(self.log, "ab") if self.log else None  # noqa: SIM115 - closed with the process
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        _tell_guardian("group", self.popen.pid)  # its own session: the group id is its pid
        return self

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout=15, sig=signal.SIGTERM):
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(5)
        # Reap anything left in the group (a pool child that outlived its parent).
        self.signal_group(signal.SIGKILL)
        _tell_guardian("forget", self.popen.pid)

    def kill(self):
        self.signal_group(signal.SIGKILL)
        self.popen.wait(5)
        _tell_guardian("forget", self.popen.pid)


class Supervisor:
    """Starts again a process that exited on its own (a worker that crashed on a
    broker restart, say), as compose's `restart: unless-stopped` does in
    production: one crashed worker must not stop paging or steps for good.
    A process someone stops or kills on purpose is `held` first; `restarted`
    lists (name, exit code, time) for each restart, `on_restart` is told too."""

    def __init__(self, processes, start=None, interval=0.5, on_restart=None):
        self.processes = list(processes)
        self.start_process = start or (lambda process: process.start())
        self.interval, self.on_restart = interval, on_restart
        self.restarted, self.held = [], set()
        # Re-entrant: the start callback may release() the process it is starting.
        self._lock, self._stop = threading.RLock(), threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def hold(self, process):
        """`process` is going down on purpose: leave it alone until release()."""
        with self._lock:
            self.held.add(process.name)

    def release(self, process):
        with self._lock:
            self.held.discard(process.name)

    def check(self):
        """One pass: restart every supervised process that exited and is not held."""
        for process in self.processes:
            with self._lock:
                if process.name in self.held or process.popen is None or process.alive():
                    continue
                code = process.popen.returncode
                process.signal_group(signal.SIGKILL)  # pool children left behind by the crash
                self.start_process(process)
                self.restarted.append((process.name, code, time.time()))
            if self.on_restart:
                self.on_restart(process, code)

    def _watch(self):
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a failed restart is tried again next pass
                pass


class Redis:
    """password: required of every client (runbook steps run on this machine and must
    not be able to talk to the broker); None for a test's own throwaway Redis."""

    def __init__(self, port, data_dir, persist=False, password=None):
        self.port, self.dir, self.persist, self.password = port, Path(data_dir), persist, password
        self.process = None

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--daemonize", "no", "--protected-mode", "yes"]
        if self.password:
            argv += ["--requirepass", self.password]
        # Tests want a throwaway broker; the standalone console keeps its queue across restarts.
        argv += ["--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        self.process = Process("redis", argv, log=self.dir / "redis.log").start()
        wait_for(lambda: port_open(self.port), 15, "Redis")
        return self

    def stop(self):
        if self.process:
            self.process.stop()


class Postgres:
    """A PostgreSQL cluster of our own: throwaway for tests, durable for the standalone
    console (its data survives restarts and crashes). initdb refuses root, so it runs as
    `postgres`. TCP connections need the password kept beside the cluster: runbook steps
    run on this machine and must not be able to connect."""

    def __init__(self, port, data_dir, durable=False):
        self.port, self.dir, self.durable = port, Path(data_dir), durable

    @property
    def password(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        return kept_secret(self.dir / "password")

    @property
    def url(self):
        return f"postgres://postgres:{self.password}@127.0.0.1:{self.port}/ops_console"

    def _as_postgres(self, argv, **kw):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        env = dict(os.environ, PGPASSWORD=self.password)
        return subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, **kw)

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.dir.chmod(0o700)
            if self.durable:
                # The standalone's data directory stays closed to everyone else (the step user
                # above all): postgres gets through it as its group, without reading it.
                os.chown(self.dir.parent, -1, pw.pw_gid)
                os.chmod(self.dir.parent, 0o710)
                for folder in self.dir.parent.parents:
                    if not traversable_by(folder, pw):
                        raise RuntimeError(
                            f"PostgreSQL runs as the user postgres, who cannot get through {folder} to the "
                            f"data directory {self.dir.parent}: choose one under a folder others may pass "
                            f"(or: chmod o+x {folder})")
            else:
                # The parent temp dir must be traversable by postgres.
                os.chmod(self.dir.parent, 0o755)
        pgdata = self.dir / "pgdata"
        if not pgdata.exists():
            pwfile = self.dir / "pwfile"
            pwfile.write_text(self.password + "\n")
            if os.geteuid() == 0:
                os.chown(pwfile, pw.pw_uid, pw.pw_gid)
            try:
                self._as_postgres([str(PG_BIN / "initdb"), "-D", str(pgdata), "-U", "postgres",
                                   "--auth-host=scram-sha-256", "--auth-local=peer", f"--pwfile={pwfile}",
                                   "-E", "UTF8", "--locale=C.UTF-8"])
            finally:
                pwfile.unlink()
        if self.durable and self.running():
            # A console killed without its clean-up (SIGKILL) left its cluster running: stop it, so that
            # it starts again with this run's options (the port may have changed).
            self.stop()
        opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
                "-c max_connections=200")
        if not self.durable:
            # Durability is pointless for a throwaway test database; speed is not.
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _tell_guardian("postgres", pgdata)  # pg_ctl detaches the server: stopped by its data directory
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-l", str(self.dir / "postgres.log"),
                           "-o", opts, "-w", "-t", "60", "start"])
        if not self.database_exists():
            self._as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                               "ops_console"])
        return self

    def database_exists(self):
        """False on a new cluster; a kept cluster (the standalone's) has its database already."""
        argv = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'ops_console'"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, check=True, capture_output=True, text=True,
                                env=dict(os.environ, PGPASSWORD=self.password))
        return result.stdout.strip() == "1"

    def running(self):
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "pgdata"), "status"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def stop(self, mode="fast"):
        pgdata = self.dir / "pgdata"
        if (pgdata / "postmaster.pid").exists():
            self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-m", mode, "-w", "stop"])

    def restart(self):
        pgdata = self.dir / "pgdata"
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "restart"])


class _PrometheusComponent:
    """Prometheus and Alertmanager start alike: a config, a data dir, a /-/ready probe."""

    name = ""

    def __init__(self, port, config, data_dir):
        self.port, self.config, self.dir = port, Path(config), Path(data_dir)
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def argv(self):
        raise NotImplementedError

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = Process(self.name, self.argv(), log=self.dir / f"{self.name}.log").start()
        wait_for(lambda: http_ok(f"{self.url}/-/ready"), 30, self.name)
        return self

    def stop(self):
        if self.process:
            self.process.stop()


class Prometheus(_PrometheusComponent):
    name = "prometheus"

    def argv(self):
        return ["prometheus", f"--config.file={self.config}", f"--storage.tsdb.path={self.dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"]


class Alertmanager(_PrometheusComponent):
    name = "alertmanager"

    def argv(self):
        return ["prometheus-alertmanager", f"--config.file={self.config}", f"--storage.path={self.dir}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="]


def traversable_by(folder, user):
    """Whether `user` (a pwd entry) may pass through folder, by its mode bits."""
    st = os.stat(folder)
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid == user.pw_gid or st.st_gid in os.getgrouplist(user.pw_name, user.pw_gid):
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def kept_secret(path, nbytes=24):
    """A random secret made once and kept in a file only its owner reads."""
    path = Path(path)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(nbytes))
        path.chmod(0o600)
    return path.read_text().strip()


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
