"""Shared fixtures: users with roles, a real Celery worker process, private
Redis servers, and Playwright driving Debian's Chromium."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # devstack (stdlib-only service control)

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make beside it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from devstack import services  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


# --- users -----------------------------------------------------------------

@pytest.fixture
def make_user(db):
    """make_user("commander") -> a user in that role (password "pw-<name>-123")."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    counter = {"n": 0}

    def make(role, username=None, **extra):
        counter["n"] += 1
        username = username or f"{role}{counter['n']}"
        user = get_user_model().objects.create_user(username=username, password=f"pw-{username}-123",
                                                    email=f"{username}@example.test", **extra)
        if role == "admin":
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def client_as(client, make_user):
    """client_as("auditor") -> a Django test client signed in with that role."""

    def sign_in(role, **kw):
        user = make_user(role, **kw)
        client.force_login(user)
        client.user = user
        return client

    return sign_in


# --- real services ---------------------------------------------------------

def database_url():
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail("this test needs PostgreSQL: run it through `python3 -m devstack test`")
    return f"postgres://{s['USER']}:{s.get('PASSWORD') or ''}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of the test's own, which it may stop and restart."""
    redis = services.Redis(services.free_port(), tmp_path / "redis").start()
    yield redis
    redis.stop()


@pytest.fixture
def step_shared_dir():
    """A directory that runbook steps (the step user, in their sandbox) and the test
    both see: `devstack test` makes one and lists it in RUNBOOK_STEP_SHARED_DIRS."""
    import secrets

    root = os.environ.get("OPS_CONSOLE_TEST_STEP_SHARED")
    if not root:
        pytest.fail("this test needs the step sandbox's shared directory: run it through `python3 -m devstack test`")
    path = Path(root) / secrets.token_hex(8)
    path.mkdir(mode=0o777)
    path.chmod(0o777)
    yield path
    services.remove_tree(path)


class WorkerControl:
    """Start/stop real `celery worker` processes against the test database."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.processes = []

    def start(self, redis_url=None, queues="celery,paging", concurrency=2, name=None, extra_env=None):
        name = name or f"w{len(self.processes)}"
        # No beat runs in tests: a worker would stand in for it after 30 s and fire what a test
        # means to fire itself; tests of the stand-in turn it on with extra_env.
        env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_ALLOW_ASYNC_UNSAFE="",
                   OPS_CONSOLE_BEAT_STANDIN_AFTER="0")
        if redis_url:
            env["REDIS_URL"] = redis_url
        env.update(extra_env or {})
        argv = [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", queues, "--concurrency",
                str(concurrency), "--pool", "prefork", "-n", f"{name}@%h", "-l", "info", "--without-gossip",
                "--without-mingle", "--without-heartbeat"]
        log = self.tmp_path / f"worker-{name}.log"
        process = services.Process(name, argv, env=env, cwd=str(REPO), log=log).start()
        wait_until(lambda: "ready." in log.read_text(errors="replace"), 30, message=f"celery worker {name}")
        process.log_path = log
        self.processes.append(process)
        return process

    def stop_all(self):
        # SIGKILL, not a warm shutdown: a test is over, and Celery takes about 2 s to stop even an
        # idle worker (about 80 s over the suite). What it held unacknowledged stays with the
        # broker past the test run (the visibility timeout), out of the next test's way.
        for process in self.processes:
            if process.alive():
                process.kill()
            process.stop()  # reaps the group; the kill left nothing to wait for


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """A real Celery worker (separate process, prefork pool) on the test broker.
    Tests using it are transactional so the worker sees their rows."""
    control = WorkerControl(tmp_path)
    control.start()
    yield control
    control.stop_all()


@pytest.fixture
def worker_control(transactional_db, tmp_path):
    """Like celery_worker, but the test starts (and may kill) workers itself."""
    control = WorkerControl(tmp_path)
    yield control
    control.stop_all()


# --- browser ---------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def new_context(browser, request):
    """new_context() -> a fresh browser context (own cookies: one per user).
    When the test fails, every page is saved as a screenshot in test-artifacts/."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    failed = getattr(request.node, "rep_call", None)
    for n, context in enumerate(contexts):
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for i, page in enumerate(context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{n}-{i}.png"), full_page=True)
        context.close()


def sign_in(page, base_url, user):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def page_as(new_context, live_server, make_user):
    """page_as("commander") -> a Playwright page in its own context, signed in
    through the real login form (page.user is the user)."""

    def open_page(role, user=None):
        user = user or make_user(role)
        page = new_context().new_page()
        sign_in(page, live_server.url, user)
        page.user = user
        return page

    return open_page


# --- monitoring stack ------------------------------------------------------

@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    """A real Prometheus scraping itself every second (so `up` and
    `prometheus_*` series exist). Tests point settings.PROMETHEUS_URL at it."""
    workdir = tmp_path_factory.mktemp("prometheus")
    port = services.free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: prometheus\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    server = services.Prometheus(port, config, workdir / "data").start()
    import urllib.request, json as _json  # noqa: E401

    def has_data():
        with urllib.request.urlopen(f"{server.url}/api/v1/query?query=up", timeout=2) as r:
            return bool(_json.load(r)["data"]["result"])

    wait_until(has_data, 30, message="Prometheus's first scrape")
    yield server
    server.stop()


# --- speed -----------------------------------------------------------------

@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Every signed-in test user costs a full PBKDF2 hash otherwise."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class SmtpRecorder:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it was sent,
    or refuses every message with 554 when `refuse`."""

    def __init__(self, refuse=False):
        import socket

        from aiosmtpd.controller import Controller

        self.messages, self.refuse = [], refuse
        recorder = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if recorder.refuse:
                    return "554 5.7.1 Message refused"
                from email import message_from_bytes

                recorder.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        with socket.socket() as probe:  # aiosmtpd's controller needs the port before it starts
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, to):
        return f"mailto://127.0.0.1:{self.port}?to={to}&from=ops-console@example.test&mode=insecure"

    def close(self):
        self.controller.stop()


@pytest.fixture
def smtp():
    made = []

    def make(refuse=False):
        made.append(SmtpRecorder(refuse))
        return made[-1]

    yield make
    for server in made:
        server.close()
