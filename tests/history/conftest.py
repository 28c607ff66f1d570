"""The history's tests write audit entries (postmortem saves) with the audit tests' own chain key."""
from tests.audit.conftest import chain_key, fast_password_hashing  # noqa: F401  (autouse fixtures)
