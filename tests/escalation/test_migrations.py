"""Migration 0005 on a database with the old contact methods and deliveries in it."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ops_console.escalation import channels

BEFORE = [("escalation", "0004_recurring_maintenance")]


@pytest.mark.django_db(transaction=True)
def test_0005_rewrites_email_webhook_and_slack_methods_as_apprise_urls(settings):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("escalation")
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="cho", email="cho@example.test")
    ContactMethod = old.get_model("escalation", "ContactMethod")
    ContactMethod.objects.create(user_id=user.pk, channel="email", address="cho@example.test")
    ContactMethod.objects.create(user_id=user.pk, channel="webhook", address="https://hooks.example.test/page?k=1")
    ContactMethod.objects.create(user=None, channel="slack", address="https://chat.example.test/hooks/team")

    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    new = executor.loader.project_state(latest).apps
    urls = list(new.get_model("escalation", "ContactMethod").objects.order_by("pk").values_list("url", "label"))
    assert [label for _, label in urls] == ["E-mail", "Webhook", "Chat"]
    assert urls[0][0].startswith("mailto://") and "to=cho@example.test" in urls[0][0]
    assert urls[1][0] == "jsons://hooks.example.test/page?-k=1"
    assert urls[2][0].startswith("jsons://chat.example.test/hooks/team?:message=text")
    assert all(channels.problem(url) is None for url, _ in urls)
