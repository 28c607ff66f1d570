"""Apprise URLs: which are refused and why, how secrets are masked, and what
each attempt adds to a URL (delivery id, attempt, the page's data, timeouts).
The migration that rewrote the old e-mail/webhook/Slack methods is checked here
too: everything it writes is a URL Apprise reads."""
import importlib

import pytest

from ops_console.escalation import channels

migration = importlib.import_module("ops_console.escalation.migrations.0005_apprise_contact_methods_and_attempts")


@pytest.mark.parametrize("url,expected", [
    ("mailto://alerts:Sup3rS3cret@smtp.example.test?to=me@example.test", "alerts:****@smtp.example.test"),
    ("jsons://hooks.example.test/hook/T0k3nT0k3nT0k3n99", "jsons://hooks.example.test/hook/T...9"),
    ("json://u:pw123456@127.0.0.1:8080/hook?+Authorization=Bearer%20abc&:team=sre", "+Authorization=****"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "slack://T...2/A...D/T...Q"),
])
def test_secrets_are_masked(url, expected):
    shown = channels.masked(url)
    assert expected in shown
    for secret in ("Sup3rS3cret", "T0k3nT0k3nT0k3n99", "pw123456", "Bearer", "TIiajkdnlazkcOXrIdevi7FQ"):
        assert secret not in shown
    assert "overflow=" not in shown   # Apprise's defaults are noise on a page


@pytest.mark.parametrize("url", ["", "   ", "nonsense", "mailto://", "json://", "https://hooks.example.test/x"])
def test_urls_apprise_cannot_read_are_refused_with_a_reason(url):
    assert channels.problem(url)


def test_an_http_url_is_told_its_apprise_spelling():
    assert "jsons://hooks.example.test/x" in channels.problem("https://hooks.example.test/x")


def test_each_attempt_carries_its_delivery_id_and_the_pages_data():
    message = channels.Message("s", "t", {"incident": "INC-1", "title": "x"}, delivery_id="KEY", attempt=2)
    plugin = channels.service(channels.with_delivery("json://127.0.0.1:9/hook", message))
    assert plugin.headers["Idempotency-Key"] == plugin.headers["X-Ops-Console-Delivery"] == "KEY"
    assert plugin.payload_extras == {"incident": "INC-1", "delivery_id": "KEY", "attempt": "2"}  # not `title`
    mapped = channels.service(channels.with_delivery("json://127.0.0.1:9/hook?:message=text", message))
    assert mapped.payload_extras == {"message": "text"}   # a body the URL maps itself is left alone
    mail = channels.service(channels.with_delivery("mailto://127.0.0.1:25?to=a@example.test&from=b@example.test",
                                                           message))
    assert mail.headers["X-Ops-Console-Delivery"] == "KEY"


def test_the_migration_writes_urls_apprise_reads(settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_HOST_USER = "smtp.example.test", 587, "ops"
    settings.EMAIL_HOST_PASSWORD, settings.EMAIL_USE_TLS = "p@ss", True
    mail = migration.to_apprise("email", "cho@example.test")
    assert channels.service(mail).url(privacy=True).startswith("mailtos://ops:****@smtp.example.test")  # STARTTLS
    assert migration.to_apprise("webhook", "https://hooks.example.test/p?x=1") == "jsons://hooks.example.test/p?-x=1"
    assert migration.to_apprise("webhook", "http://10.0.0.1:8080/h") == "json://10.0.0.1:8080/h"
    chat = migration.to_apprise("slack", "https://chat.example.test/hooks/abc")
    assert channels.service(chat).payload_extras["message"] == "text"
    slack = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    assert channels.service_name(migration.to_apprise("slack", slack)) == "Slack"
    for url in (mail, chat, migration.to_apprise("webhook", "https://hooks.example.test/p?x=1")):
        assert channels.problem(url) is None
