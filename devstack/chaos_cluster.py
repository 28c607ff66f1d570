"""The chaos run's cluster on 127.0.0.1: one PostgreSQL, one Redis, two web
nodes, two Celery workers (and two paging workers) and two beats, each a process the run may SIGKILL
and start again; all data in one temporary directory."""
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from devstack import provision, services

NODES = 2  # of each kind: web, worker, beat


class Cluster:
    def __init__(self, workdir, python, step_shared, step_root, token):
        # PostgreSQL's user must pass through workdir; the console's own files (keys, logs) are closed.
        self.dir, self.python = Path(workdir) / "console", python
        self.bin = python.parent
        self.logs = self.dir / "logs"
        self.postgres = services.Postgres(services.free_port(), Path(workdir) / "postgres")
        # Kept across its restart (appendonly), as the standalone and production keep their broker.
        self.redis = services.Redis(services.free_port(), self.dir / "redis", persist=True,
                                    password=secrets.token_urlsafe(24))
        self.web_ports = [services.free_port() for _ in range(NODES)]
        self.token = token
        self.supervisor = None
        self.env = dict(
            os.environ,
            DATABASE_URL=self.postgres.url,
            REDIS_URL=self.redis.url,
            SECRET_KEY=secrets.token_urlsafe(50),
            OPS_CONSOLE_HTTPS="false",
            OPS_CONSOLE_BASE_URL=self.urls[0],
            ALLOWED_HOSTS="127.0.0.1,localhost",
            OPS_CONSOLE_DATA_DIR=str(self.dir),
            STATIC_ROOT=str(self.dir / "static"),
            OPS_CONSOLE_ALERTMANAGER_TOKEN=token,
            # What docs/operations.md tells production to set: persistent connections survive a database restart.
            DB_CONN_MAX_AGE="60",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            RUNBOOK_STEP_SHARED_DIRS=str(step_shared),
            RUNBOOK_STEP_ROOT=str(step_root),
            PROMETHEUS_URL="http://127.0.0.1:9",  # nothing: the run uses no PromQL
            PYTHONDONTWRITEBYTECODE="1",
        )
        for name in ("DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"):
            self.env.pop(name, None)
        self.webs = [self._web(n) for n in range(NODES)]
        self.workers = [self._celery(f"worker{n + 1}", ["worker", "-Q", "celery,default", "--concurrency", "2",
                                                        "-l", "info", "-n", f"chaos{n + 1}@%h"])
                        for n in range(NODES)]
        # Paging on workers of its own, as in production: steps never take their slots.
        self.pagers = [self._celery(f"paging{n + 1}", ["worker", "-Q", "paging", "--concurrency", "2",
                                                       "-l", "info", "-n", f"chaos-paging{n + 1}@%h"])
                       for n in range(NODES)]
        # Two beats cannot share one schedule file: each keeps its own.
        self.beats = [self._celery(f"beat{n + 1}", ["beat", "-l", "info", "-s",
                                                     str(self.dir / f"beat{n + 1}-schedule")])
                      for n in range(NODES)]

    @property
    def urls(self):
        return [f"http://127.0.0.1:{port}" for port in self.web_ports]

    def _web(self, n):
        metrics = self.dir / f"metrics-web{n + 1}"
        env = dict(self.env, PROMETHEUS_MULTIPROC_DIR=str(metrics), OPS_CONSOLE_API_MAX_INFLIGHT="3")
        process = services.Process(
            f"web{n + 1}", [str(self.bin / "gunicorn"), "ops_console.wsgi", "--bind", f"127.0.0.1:{self.web_ports[n]}",
                            "--workers", "2", "--threads", "4", "--timeout", "60"],
            env=env, cwd=provision.REPO, log=self.logs / f"web{n + 1}.log")
        process.metrics_dir, process.url = metrics, self.urls[n]
        return process

    def _celery(self, name, argv):
        return services.Process(name, [str(self.bin / "celery"), "-A", "ops_console", *argv], env=self.env,
                                cwd=provision.REPO, log=self.logs / f"{name}.log")

    # --- starting ---------------------------------------------------------

    def start_services(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        # Steps run as the step user, who must not read this directory (keys, the database).
        self.dir.chmod(0o700)
        self.logs.mkdir(exist_ok=True)
        services.kept_secret(self.dir / "audit_chain_key", 32)
        self.postgres.start()
        self.redis.start()

    def manage(self, *args, check=True, timeout=300):
        result = subprocess.run([str(self.python), "manage.py", *args], cwd=provision.REPO, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
        return result

    def console(self, command, payload):
        """Run devstack/chaos_console.py's `command` inside the console (Django set up)."""
        result = subprocess.run([str(self.python), "-m", "devstack.chaos_console", command, json.dumps(payload)],
                                cwd=provision.REPO, env=dict(self.env, DJANGO_SETTINGS_MODULE="ops_console.settings"),
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"chaos_console {command} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start_web(self, process):
        services.remove_tree(process.metrics_dir)
        process.metrics_dir.mkdir()
        process.start()

    def start_all(self):
        for web in self.webs:
            self.start_web(web)
        for process in self.workers + self.pagers + self.beats:
            process.start()
        for web in self.webs:
            self.wait_web(web)
        for worker in self.workers + self.pagers:
            self.wait_worker(worker)
        # As compose's `restart: unless-stopped`: a process that exits on its own is started
        # again; the run reports each one, with the tail of its log.
        self.supervisor = services.Supervisor(self.webs + self.workers + self.pagers + self.beats,
                                              start=lambda process: self.restart_process(process, wait=False))
        self.supervisor.start()  # once assigned: stop() then always finds it

    def wait_web(self, web, timeout=60):
        services.wait_for(lambda: services.http_ok(f"{web.url}/readyz"), timeout, web.name)

    def wait_worker(self, worker, timeout=60):
        """Celery says "ready." in its log (after the offset where this start began)."""
        def ready():
            with open(worker.log, "rb") as log:
                log.seek(getattr(worker, "log_offset", 0))
                return b"ready." in log.read()

        services.wait_for(ready, timeout, worker.name)

    # --- faults -----------------------------------------------------------

    def kill(self, process):
        """SIGKILL on purpose: the supervisor leaves it down until restart_process()."""
        self.supervisor.hold(process)
        sigkill(process)

    def restart_process(self, process, wait=True):
        """Start a killed process again (on the same port, schedule file, name)."""
        if self.supervisor:
            self.supervisor.release(process)
        if process in self.webs:
            self.start_web(process)
            if wait:
                self.wait_web(process)
        else:
            if process in self.workers or process in self.pagers:
                process.log_offset = process.log.stat().st_size
            process.start()
            if wait and process in self.workers:
                self.wait_worker(process)

    def worker_of(self, pid):
        """The worker whose process group holds pid (a pool process), or None."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return None
        return next((w for w in self.workers if w.alive() and w.pid == group), None)

    def restart_redis(self, down_seconds):
        self.redis.process.stop()
        time.sleep(down_seconds)  # the outage itself: the broker is away this long on purpose
        self.redis.start()

    def restart_postgres(self):
        self.postgres.restart()

    # --- reading the database without Django --------------------------------

    def sql(self, query):
        """psql -tA: [[column, ...], ...] (raises CalledProcessError when the database is away)."""
        argv = [str(services.PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.postgres.port), "-U", "postgres",
                "-d", "ops_console", "-tAq", "-F", "\t", "-c", query]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, PGPASSWORD=self.postgres.password)).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def sql_json(self, query):
        """The one JSON value a query returns."""
        rows = self.sql(query)
        return json.loads(rows[0][0]) if rows and rows[0][0] else None

    # --- stopping ---------------------------------------------------------

    def stop(self):
        if self.supervisor:
            self.supervisor.stop()
        for process in self.beats + self.workers + self.pagers + self.webs:
            if process.popen is not None:
                process.stop(timeout=10)
        if self.redis.process is not None:
            self.redis.stop()
        try:
            self.postgres.stop(mode="immediate")
        except subprocess.CalledProcessError:
            pass


def sigkill(process):
    """SIGKILL the whole process group (gunicorn's or Celery's children too): no clean-up, no ack."""
    process.signal_group(signal.SIGKILL)
    process.popen.wait(10)
