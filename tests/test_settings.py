"""Settings come from the environment and refuse unsafe production values."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def django_setup(without=(), show="s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS",
                 **env):
    unset = ("SECRET_KEY", "DEBUG", "OPS_CONSOLE_HTTPS", *without)
    base = {k: v for k, v in os.environ.items() if k not in unset}
    base.update(env)
    code = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','ops_console.settings'); django.setup();"
            f"from django.conf import settings as s; print({show})")
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


@pytest.mark.parametrize("value, expected", [("1", True), ("TRUE", True), (" yes ", True), ("On", True),
                                             ("0", False), ("False", False), ("no", False), ("OFF", False),
                                             ("", True)])
def test_a_bool_reads_the_usual_spellings_and_empty_is_the_default(value, expected):
    result = django_setup(SECRET_KEY="x" * 50, OPS_CONSOLE_HTTPS=value, show="s.HTTPS")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(expected)]


@pytest.mark.parametrize("value", ["flase", "2", "enabled", "y e s"])
def test_a_bool_that_is_not_one_refuses_to_start_and_names_the_variable(value):
    result = django_setup(SECRET_KEY="x" * 50, OPS_CONSOLE_HTTPS=value)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"OPS_CONSOLE_HTTPS={value!r} is not a yes/no value" in result.stderr


def test_a_number_that_is_not_one_refuses_to_start_and_names_the_variable():
    result = django_setup(SECRET_KEY="x" * 50, EMAIL_PORT="25a")
    assert result.returncode != 0 and "EMAIL_PORT='25a' is not a whole number" in result.stderr
    result = django_setup(SECRET_KEY="x" * 50, PROMETHEUS_TIMEOUT="two")
    assert result.returncode != 0 and "PROMETHEUS_TIMEOUT='two' is not a number" in result.stderr
    result = django_setup(SECRET_KEY="x" * 50, EMAIL_PORT="", show="s.EMAIL_PORT")
    assert result.returncode == 0 and result.stdout.split() == ["25"], result.stderr


def test_the_database_must_be_named(tmp_path):
    result = django_setup(without=("DATABASE_URL",), SECRET_KEY="x" * 50, OPS_CONSOLE_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DATABASE_URL must be set" in result.stderr


def test_a_standalone_checkout_reads_its_data_directory_when_the_environment_names_no_database(tmp_path):
    (tmp_path / "env").write_text("# written by devstack run\n"
                                  "DATABASE_URL=postgres://u:p@127.0.0.1:15999/ops\n"
                                  "SECRET_KEY=standalone-secret-key-0123456789\n"
                                  "REDIS_URL=redis://:pw@127.0.0.1:16999/0\n"
                                  "OPS_CONSOLE_HTTPS=false\n")
    show = "s.DATABASES['default']['PORT'], s.REDIS_URL, s.SECRET_KEY, s.HTTPS"
    result = django_setup(without=("DATABASE_URL", "REDIS_URL"), OPS_CONSOLE_DATA_DIR=str(tmp_path), show=show)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["15999", "redis://:pw@127.0.0.1:16999/0", "standalone-secret-key-0123456789",
                                     "False"]
    # The environment wins, and names a database: then the file is not read at all (tests, production).
    result = django_setup(OPS_CONSOLE_DATA_DIR=str(tmp_path), SECRET_KEY="x" * 50, show="s.SECRET_KEY, s.HTTPS")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["x" * 50, "True"]


def test_security_headers(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
