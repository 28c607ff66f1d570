"""Executors on their own: real subprocesses, a real local HTTP server, a real Prometheus."""
import http.server
import os
import threading
import time

import pytest

from ops_console.runbooks import executors
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.executors import BoundedOutput, StepContext, compare_samples

from .builders import shell, step


def run(s, values=None, progress=None):
    return executors.get(s.kind).execute(StepContext(s, values or {}, progress))


# --- pure parts ------------------------------------------------------------------

def test_bounded_output_keeps_head_and_tail_and_counts_the_rest():
    out = BoundedOutput(head=10, tail=10)
    out.write(b"H" * 10)
    for _ in range(100):
        out.write(b"m" * 7)
    out.write(b"T" * 10)
    text, cut = out.text()
    assert text.startswith("H" * 10) and text.endswith("T" * 10)
    assert cut == 700 and "700 bytes of output cut" in text


@pytest.mark.parametrize("values, expect, ok", [
    ([0.001, 0.002], "< 0.01", True), ([0.001, 0.5], "< 0.01", False), ([], "empty", True), ([1], "empty", False),
    ([1], "nonempty", True), ([], "< 1", False), ([3], ">= 3", True), ([3], "!= 3", False), ([2], "== 2", True),
])
def test_compare_samples(values, expect, ok):
    assert compare_samples(values, expect) is ok


def test_an_unreadable_expectation_is_a_permanent_error():
    with pytest.raises(executors.StepError, match="cannot read expectation"):
        compare_samples([1], "about 3")


def test_unknown_kind():
    with pytest.raises(executors.StepError, match="no executor"):
        executors.get("telnet")


# --- shell -------------------------------------------------------------------------



@pytest.mark.integration
def test_shell_captures_output_and_exit_status():
    outcome = run(shell("echo out; echo err >&2; exit 3"))
    assert not outcome.ok and outcome.exit_code == 3
    assert outcome.output == "out\nerr\n" and "status 3" in outcome.error


@pytest.mark.integration
def test_shell_expectation_is_a_regex_on_the_output():
    assert run(shell("echo 'replicas=5'", expect=r"replicas=\d+")).ok
    outcome = run(shell("echo 'replicas=none'", expect=r"replicas=\d+"))
    assert not outcome.ok and outcome.expectation_met is False


@pytest.mark.integration
@pytest.mark.parametrize("value", ["; touch {m}", "$(touch {m})", "`touch {m}`", "' ; touch {m}; '",
                                   "&& touch {m}", "| tee {m}", "x; touch {m} $(touch {m}2)"])
def test_injected_values_never_execute(step_shared_dir, value):
    marker = step_shared_dir / "pwned"
    value = value.format(m=marker)
    ctx = StepContext(shell("echo {{ name }}", params=["name"]), {"name": value})
    outcome = executors.get("shell").execute(ctx)
    assert outcome.ok
    assert outcome.output == value + "\n"
    assert "touch" not in ctx.command
    assert not marker.exists() and not (step_shared_dir / "pwned2").exists()


@pytest.mark.integration
def test_a_value_with_a_line_break_is_refused_before_anything_runs(step_shared_dir):
    with pytest.raises(executors.StepError, match="parameters"):
        run(shell("echo {{ name }}", params=["name"]), values={"name": f"x\ntouch {step_shared_dir}/pwned"})
    assert not (step_shared_dir / "pwned").exists()


@pytest.mark.integration
def test_fifty_megabytes_of_output_are_bounded():
    outcome = run(shell("head -c 50000000 /dev/zero | tr '\\0' 'a'; echo; echo THE-END"))
    assert outcome.ok
    assert len(outcome.output) < 200_000
    assert outcome.output_cut > 49_000_000
    assert outcome.output.startswith("aaaa") and outcome.output.endswith("THE-END\n")
    assert "bytes of output cut" in outcome.output


@pytest.mark.integration
def test_shell_reports_progress_and_stops_when_told():
    seen = []

    def progress(output, cut, command):
        seen.append(output)
        return len(seen) < 3

    started = time.monotonic()
    outcome = run(shell("for i in $(seq 100); do echo line$i; sleep 0.2; done"), progress=progress)
    assert time.monotonic() - started < 5
    assert outcome.cancelled and not outcome.ok
    assert seen[0].startswith("line1\n")


@pytest.mark.integration
def test_a_step_that_a_worker_cannot_hand_to_the_step_user_does_not_run(monkeypatch, step_shared_dir):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(executors.StepError, match="must run as root"):
        run(shell(f"touch {step_shared_dir}/ran"))
    assert not (step_shared_dir / "ran").exists()


@pytest.mark.integration
def test_the_console_secrets_are_not_in_the_step_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("OPS_CONSOLE_ALERTMANAGER_TOKEN", "token-not-leaked")
    monkeypatch.setenv("SOME_VENDOR_API_TOKEN", "vendor-token-not-leaked")
    monkeypatch.setenv("PAGER_PASSWORD", "password-not-leaked")
    outcome = run(shell("env"))
    assert "PATH=" in outcome.output
    for secret in ("do-not-leak", "token-not-leaked", "vendor-token-not-leaked", "password-not-leaked"):
        assert secret not in outcome.output


# --- http --------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 503 if self.path == "/down" else 200
        self.send_response(code)
        self.end_headers()
        self.wfile.write(f"status=ok path={self.path}".encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.end_headers()
        self.wfile.write(b"got " + body + b" " + self.headers["X-Token"].encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.integration
def test_http_get_with_expected_text(server):
    outcome = run(step("http", f"GET {server}/health", expect="status=ok"))
    assert outcome.ok and outcome.value == 200 and outcome.output.startswith("HTTP 200")
    outcome = run(step("http", f"GET {server}/down"))
    assert not outcome.ok and "status 503" in outcome.error


@pytest.mark.integration
def test_http_post_with_headers_body_and_expected_status(server):
    body = f"POST {server}/scale\nX-Token: abc\n\nreplicas={{{{ n }}}}"
    outcome = run(step("http", body, expect_status=201, params=["n"]), values={"n": 5})
    assert outcome.ok and "got replicas=5 abc" in outcome.output


@pytest.mark.integration
def test_http_connection_refused_is_worth_a_retry():
    with pytest.raises(executors.RetryableError, match="failed"):
        run(step("http", "GET http://127.0.0.1:9/"))


def test_http_refuses_other_schemes():
    with pytest.raises(executors.StepError, match="only http"):
        run(step("http", "GET file:///etc/passwd"))


# --- promql and wait ---------------------------------------------------------------

@pytest.mark.integration
def test_promql_compares_every_sample(prometheus, settings):
    settings.PROMETHEUS_URL = prometheus.url
    outcome = run(step("promql", 'up{job="prometheus"}', expect="== 1"))
    assert outcome.ok and outcome.value[0]["value"] == 1.0 and 'job="prometheus"' in outcome.output
    outcome = run(step("promql", 'up{job="{{ job }}"}', expect="nonempty", params=["job"]),
                  values={"job": 'no"such'})
    assert not outcome.ok and outcome.output == "(no samples)\n"


@pytest.mark.integration
def test_promql_against_a_down_prometheus_fails_with_the_reason(settings):
    from ops_console.monitoring import prometheus

    settings.PROMETHEUS_URL = "http://127.0.0.1:9"
    prometheus.reset_breaker()
    with pytest.raises(executors.RetryableError, match="unreachable"):
        run(step("promql", "up", expect="== 1"))
    prometheus.reset_breaker()


@pytest.mark.integration
def test_wait_sleeps_and_can_be_stopped():
    started = time.monotonic()
    assert run(step("wait", "", hold_for=0.6)).ok
    assert time.monotonic() - started >= 0.6
    outcome = run(step("wait", "", hold_for=30), progress=lambda *a: False)
    assert outcome.cancelled


@pytest.mark.integration
def test_wait_until_a_condition_holds(prometheus, settings):
    settings.PROMETHEUS_URL = prometheus.url
    outcome = run(step("wait", 'up{job="prometheus"}', expect="== 1", hold_for=0.5, interval=0.2, timeout=10))
    assert outcome.ok and outcome.expectation_met
    outcome = run(step("wait", 'up{job="prometheus"}', expect="== 0", hold_for=0, interval=0.2, timeout=0.5))
    assert not outcome.ok and "did not hold" in outcome.error


def test_people_steps_are_not_run_by_workers():
    with pytest.raises(executors.StepError, match="commander"):
        run(step("approval", "Go?"))


