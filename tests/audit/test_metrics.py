"""The audit collector reports the log's size and recent failed sign-ins at scrape time."""
from django.urls import reverse

from ops_console.health.metrics import exposition


def sample(text, name):
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_audit_metrics(entries, client):
    made = entries(2)
    client.post(reverse("accounts:login"), {"username": "mallory", "password": "wrong"})  # kept by axes, unchained
    text = exposition().decode()
    assert sample(text, "ops_console_audit_entries") == made[-1].pk
    assert sample(text, "ops_console_failed_sign_ins_recent") == 1
