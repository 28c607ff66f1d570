"""System tests reuse the other apps' fixtures rather than making new ones."""
from tests.escalation.conftest import fast_passwords, on_call, receiver  # noqa: F401
from tests.monitoring.test_e2e_alerting import monitoring_stack, target  # noqa: F401
