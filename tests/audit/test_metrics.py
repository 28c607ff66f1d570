"""The audit collector reports the log's size and recent failed sign-ins at scrape time."""
from ops_console.audit.log import record
from ops_console.health.metrics import exposition


def sample(text, name):
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_audit_metrics(entries):
    made = entries(2)
    record("auth.login_failed", after={"username": "mallory"})
    text = exposition().decode()
    assert sample(text, "ops_console_audit_entries") == made[-1].pk + 1
    assert sample(text, "ops_console_failed_sign_ins_recent") == 1
