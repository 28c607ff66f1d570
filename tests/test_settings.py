"""Settings come from the environment and refuse unsafe production values."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def django_setup(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "OPS_CONSOLE_HTTPS")}
    base.update(env)
    code = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','ops_console.settings'); django.setup();"
            "from django.conf import settings as s;"
            "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=base, capture_output=True, text=True)


def test_production_refuses_to_start_without_a_secret_key():
    result = django_setup()
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_key():
    result = django_setup(SECRET_KEY="dev-insecure-ops-console-key-do-not-use-in-production")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_defaults_are_safe():
    result = django_setup(SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "31536000"]


def test_debug_mode_may_use_the_development_key():
    result = django_setup(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"


def test_security_headers(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
