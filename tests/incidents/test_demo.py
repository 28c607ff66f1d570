import io

from ops_console.incidents import demo
from ops_console.incidents.models import ApiToken, Incident


def test_demo_is_idempotent_and_creates_the_alertmanager_token(db, monkeypatch):
    monkeypatch.setenv(demo.TOKEN_ENV, "oc_local-alertmanager-token")
    demo.load(io.StringIO())
    demo.load(io.StringIO())
    assert Incident.objects.filter(source="demo").count() == len(demo.DEMO_INCIDENTS)
    assert ApiToken.objects.authenticate("oc_local-alertmanager-token") is not None
    assert ApiToken.objects.count() == 1
    acknowledged = Incident.objects.get(dedup_key="demo:high-error-rate")
    assert acknowledged.status == "acknowledged" and acknowledged.timeline.filter(kind="note").count() == 2
