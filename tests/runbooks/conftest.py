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
