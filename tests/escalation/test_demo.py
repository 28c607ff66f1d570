"""Demo data: roles, the default matrix and rotations, idempotent."""
import io

from ops_console.escalation import demo
from ops_console.escalation.models import EscalationPolicy, Rotation
from ops_console.escalation.oncall import who_holds


def test_demo_loads_rotations_for_every_role_once(db):
    out = io.StringIO()
    demo.load(out)
    demo.load(out)
    assert Rotation.objects.count() == 6
    assert EscalationPolicy.objects.filter(service=None).count() == 4
    assert who_holds("oncall-sre").username in ("ann.sre", "ben.sre", "cho.sre")
    assert out.getvalue().count("rotation of") == 6
