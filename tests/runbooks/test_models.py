import pytest
from django.db import IntegrityError

from ops_console.runbooks.models import InvalidTransition, Run, RunbookVersion, StepRun

from .builders import make_doc, make_version, shell, start


@pytest.mark.parametrize("old, new", [("pending", "queued"), ("queued", "running"), ("running", "succeeded"),
                                      ("running", "queued"), ("waiting", "succeeded"), ("failed", "pending")])
def test_allowed_step_transitions(old, new):
    step_run = StepRun(status=old)
    step_run.set_status(new)
    assert step_run.status == new


@pytest.mark.parametrize("old, new", [("pending", "running"), ("pending", "succeeded"), ("succeeded", "failed"),
                                      ("cancelled", "queued"), ("running", "waiting")])
def test_forbidden_step_transitions(old, new):
    with pytest.raises(InvalidTransition):
        StepRun(status=old).set_status(new)


@pytest.mark.parametrize("old, new", [("succeeded", "running"), ("cancelled", "running"), ("failed", "succeeded")])
def test_forbidden_run_transitions(old, new):
    with pytest.raises(InvalidTransition):
        Run(status=old).set_status(new)


def test_every_status_has_a_row_in_the_tables():
    assert set(Run.TRANSITIONS) == {s for s, _ in Run.STATUSES}
    assert set(StepRun.TRANSITIONS) == {s for s, _ in StepRun.STATUSES}


def test_versions_are_immutable(db):
    version = make_version(make_doc(shell("true")))
    version.source = "changed"
    with pytest.raises(InvalidTransition):
        version.save()


def test_same_text_twice_is_refused(db):
    version = make_version(make_doc(shell("true")), source="# same\n")
    with pytest.raises(IntegrityError):
        RunbookVersion.objects.create(runbook=version.runbook, number=2, source="# same\n", sha256=version.sha256,
                                      document=version.document)


def test_a_run_pins_its_version_and_parses_it_back(db):
    run = start(shell("echo hi", title="Say hi"))
    make_version(make_doc(shell("echo other"), slug=run.runbook.slug))
    run.refresh_from_db()
    assert run.version.number == 1
    assert run.document().steps[0].title == "Say hi"
    assert run.get_absolute_url() == f"/runs/{run.pk}/"
