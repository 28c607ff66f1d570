import io

from ops_console.incidents import demo
from ops_console.incidents.models import Incident


def test_demo_is_idempotent(db):
    demo.load(io.StringIO())
    demo.load(io.StringIO())
    assert Incident.objects.filter(source="demo").count() == len(demo.DEMO_INCIDENTS)
    acknowledged = Incident.objects.get(dedup_key="demo:high-error-rate")
    assert acknowledged.status == "acknowledged" and acknowledged.timeline.filter(kind="note").count() == 2
