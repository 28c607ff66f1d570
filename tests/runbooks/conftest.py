"""Fixtures for runbook tests (builders live in builders.py)."""
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
