"""Fixtures for runbook tests (builders live in builders.py)."""
import http.server
import threading

import pytest


@pytest.fixture
def commander(make_user):
    return make_user("commander")


@pytest.fixture
def responder(make_user):
    return make_user("responder")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Many users per test module: the default hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class FlakyServer:
    """A local HTTP server that answers 503 to its first `failures` requests, then 200:
    a step that fails once and then succeeds, with nothing shared on disk."""

    def __init__(self, failures=1):
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                code = 503 if outer.requests <= failures else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(f"answer {outer.requests}".encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def flaky_server():
    server = FlakyServer()
    yield server
    server.httpd.shutdown()


@pytest.fixture(scope="session")
def shipped_rules_prometheus(tmp_path_factory):
    """A real Prometheus with the shipped alert rules (deploy/prometheus/rules/,
    ServiceDown's `for: 1m` shortened to 1s) plus one rule no runbook answers
    (UnansweredAlert), scraping job backend on a port where nothing listens:
    ServiceDown fires within seconds. `.base_url` is the console address the
    rules' runbook_url annotations point to."""
    import yaml

    from devstack import services
    from tests.monitoring import stack

    workdir = tmp_path_factory.mktemp("shipped-rules")
    port, dead = services.free_port(), services.free_port()
    base_url = f"http://127.0.0.1:{services.free_port()}"
    (workdir / "conf").mkdir()
    conf = stack.render(workdir / "conf", console_url=base_url, prometheus_port=port,
                        alertmanager_port=services.free_port(), interval="1s", token_file=workdir / "token")
    (conf / "targets" / "backend.json").write_text(f'[{{"targets": ["127.0.0.1:{dead}"]}}]')
    rules_file = conf / "rules" / "slo_violations.yml"
    rules = yaml.safe_load(rules_file.read_text())
    for rule in rules["groups"][0]["rules"]:
        if rule["alert"] == "ServiceDown":
            rule["for"] = "1s"
    rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
    (conf / "rules" / "unanswered.yml").write_text(
        "groups:\n  - name: unanswered\n    rules:\n      - alert: UnansweredAlert\n        expr: vector(1)\n"
        "        labels: {severity: warning}\n        annotations: {summary: no runbook answers this}\n")
    server = services.Prometheus(port, conf / "prometheus.yml", workdir / "data").start()
    server.base_url, server.dead_target = base_url, f"127.0.0.1:{dead}"
    yield server
    server.stop()
