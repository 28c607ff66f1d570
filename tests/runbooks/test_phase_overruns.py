"""Phase overruns are decided under the run's lock, so two beats (or a beat
and a worker standing in for it) recording them at the same moment record
each overrun once."""
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ops_console.audit.models import AuditEntry
from ops_console.runbooks import engine
from ops_console.runbooks.document import Phase

from .builders import start, step


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_record_an_overrun_once(responder, monkeypatch):
    run = start(step("manual", "Do it", phase=0), actor=responder,
                phases=[Phase(index=0, title="Immediate", heading="Immediate (0-5 min)", budget_start_min=0,
                              budget_end_min=5)])
    later = timezone.now() + timedelta(minutes=6)
    # Both callers have looked at the run before either records: the moment two beats collide.
    both_looked = threading.Barrier(2, timeout=10)
    first_look = threading.local()
    overruns = engine.phase_overruns

    def look_together(*args):
        found = overruns(*args)
        if not getattr(first_look, "done", False):
            first_look.done = True
            both_looked.wait()
        return found

    monkeypatch.setattr(engine, "phase_overruns", look_together)
    counts, errors = [], []

    def beat():
        try:
            counts.append(engine.record_phase_overruns(later))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()  # each thread had a connection of its own

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(counts) == [0, 1]
    run.refresh_from_db()
    assert [item["title"] for item in run.phase_overruns] == ["Immediate"]
    assert AuditEntry.objects.filter(action="run.phase_overrun").count() == 1
