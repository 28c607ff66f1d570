"""Builders for the audit tests."""
import pytest

from ops_console.audit.log import record


@pytest.fixture
def entries(db):
    """entries(n) -> n audit entries recorded in order (oldest first)."""

    def make(n, action="thing.changed", **kw):
        return [record(action, object_type="test.thing", object_id=str(i), object_repr=f"thing {i}",
                       before={"n": i}, after={"n": i + 1}, **kw) for i in range(n)]

    return make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Each signed-in test user costs a full PBKDF2 hash otherwise (most of a test's time here).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
