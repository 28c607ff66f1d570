"""Overrides: who may take or swap a shift for whom, overlaps refused with a
clear message, every change audited in the same transaction."""
from datetime import date, datetime, timezone as tz

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ops_console.audit.models import AuditEntry
from ops_console.escalation.matrix import ensure_defaults
from ops_console.escalation.models import RotationOverride
from ops_console.escalation.oncall import who_holds
from ops_console.escalation.overrides import (OverrideOverlaps, do_create_override, do_delete_override,
                                              do_swap_shifts)

from .conftest import staff_rotation

UTC = tz.utc


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def team(db, make_user):
    ensure_defaults()
    ann, bob = make_user("responder", username="ann"), make_user("responder", username="bob")
    rotation = staff_rotation("oncall-sre", ann, bob, starts_on=date(2026, 1, 5))  # Mondays 09:00 UTC
    return {"ann": ann, "bob": bob, "rotation": rotation, "outsider": make_user("responder", username="out"),
            "commander": make_user("commander", username="boss"), "auditor": make_user("auditor", username="aud")}


def test_a_member_takes_a_shift_for_themselves_and_it_is_audited(team):
    ann, rotation = team["ann"], team["rotation"]
    # Bob's week (12-19 Jan); Ann takes Tuesday night.
    override = do_create_override(ann, rotation, ann, at(2026, 1, 13, 18), at(2026, 1, 14, 6), reason="Bob's gig")
    assert who_holds("oncall-sre", at(2026, 1, 13, 20)) == ann
    entry = AuditEntry.objects.filter(action="rotation.override_added").latest("id")
    assert entry.actor_id == ann.pk and entry.after["user"] == "ann" and entry.after["reason"] == "Bob's gig"
    do_delete_override(ann, override)
    assert who_holds("oncall-sre", at(2026, 1, 13, 20)) == team["bob"]
    assert AuditEntry.objects.filter(action="rotation.override_removed").latest("id").before["user"] == "ann"


def test_a_member_cannot_put_someone_else_on_call_nor_can_outsiders_or_auditors(team):
    rotation = team["rotation"]
    for actor, user in ((team["ann"], team["bob"]), (team["outsider"], team["outsider"]),
                        (team["auditor"], team["auditor"])):
        with pytest.raises(PermissionDenied):
            do_create_override(actor, rotation, user, at(2026, 1, 13, 18), at(2026, 1, 14, 6))
    assert not RotationOverride.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="rotation.").exists()


def test_a_commander_overrides_for_anyone_and_removes_anyones(team):
    override = do_create_override(team["commander"], team["rotation"], team["outsider"], at(2026, 1, 13, 18),
                                  at(2026, 1, 14, 6))
    with pytest.raises(PermissionDenied):
        do_delete_override(team["ann"], override)  # not hers
    do_delete_override(team["commander"], override)
    assert not RotationOverride.objects.exists()


def test_an_overlapping_override_is_refused_with_a_clear_message(team):
    ann, bob, rotation = team["ann"], team["bob"], team["rotation"]
    do_create_override(ann, rotation, ann, at(2026, 1, 13, 18), at(2026, 1, 14, 6))
    before = AuditEntry.objects.count()
    with pytest.raises(OverrideOverlaps) as refused:
        do_create_override(bob, rotation, bob, at(2026, 1, 14, 5), at(2026, 1, 14, 8))
    assert "overlaps ann's override from 2026-01-13 18:00 to 2026-01-14 06:00 UTC" in " ".join(refused.value.messages)
    assert RotationOverride.objects.count() == 1 and AuditEntry.objects.count() == before
    # Touching end to start is no overlap.
    do_create_override(bob, rotation, bob, at(2026, 1, 14, 6), at(2026, 1, 14, 8))


def test_an_override_must_end_after_it_starts(team):
    with pytest.raises(ValidationError):
        do_create_override(team["ann"], team["rotation"], team["ann"], at(2026, 1, 13, 18), at(2026, 1, 13, 18))


def test_a_swap_trades_two_shifts_in_one_transaction(team):
    ann, bob, rotation = team["ann"], team["bob"], team["rotation"]
    ann_week, bob_week = (at(2026, 1, 5, 9), at(2026, 1, 12, 9)), (at(2026, 1, 12, 9), at(2026, 1, 19, 9))
    made = do_swap_shifts(ann, rotation, ann, bob, ann_week, bob_week)
    assert who_holds("oncall-sre", at(2026, 1, 6)) == bob and who_holds("oncall-sre", at(2026, 1, 13)) == ann
    assert len(made) == 2
    entry = AuditEntry.objects.filter(action="rotation.shifts_swapped").get()
    assert [o["user"] for o in entry.after["overrides"]] == ["bob", "ann"]


def test_a_swap_that_would_overlap_changes_nothing(team):
    ann, bob, rotation = team["ann"], team["bob"], team["rotation"]
    do_create_override(team["commander"], rotation, team["outsider"], at(2026, 1, 13, 0), at(2026, 1, 13, 6))
    with pytest.raises(OverrideOverlaps):
        do_swap_shifts(ann, rotation, ann, bob, (at(2026, 1, 5, 9), at(2026, 1, 12, 9)),
                       (at(2026, 1, 12, 9), at(2026, 1, 19, 9)))
    assert RotationOverride.objects.count() == 1  # the first override of the swap was rolled back too


def test_outsiders_cannot_swap_other_peoples_shifts(team):
    with pytest.raises(PermissionDenied):
        do_swap_shifts(team["outsider"], team["rotation"], team["ann"], team["bob"],
                       (at(2026, 1, 5, 9), at(2026, 1, 12, 9)), (at(2026, 1, 12, 9), at(2026, 1, 19, 9)))


@pytest.mark.django_db(transaction=True)
def test_two_people_taking_the_same_hours_at_once_get_one_override(team):
    """One gets the hours, the other a refusal: the check and the insert are not interleaved."""
    import threading

    from django.db import connection

    barrier, outcomes = threading.Barrier(2), []

    def take(person):
        try:
            barrier.wait()
            do_create_override(person, team["rotation"], person, at(2026, 1, 13, 18), at(2026, 1, 14, 6))
            outcomes.append("ok")
        except OverrideOverlaps:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(team[name],)) for name in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["ok", "refused"] and RotationOverride.objects.count() == 1
