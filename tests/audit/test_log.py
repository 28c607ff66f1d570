"""The audit log is a hash chain that neither the application nor the database lets anyone edit."""
import threading

import pytest
from axes.models import AccessFailureLog
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, connections, transaction
from django.urls import reverse

from ops_console.audit.chain import verify
from ops_console.audit.log import GENESIS, record, record_many
from ops_console.audit.models import AppendOnlyError, AuditEntry, ChainHead


def test_entries_form_a_chain(entries):
    first, second, third = entries(3)
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert ChainHead.objects.get().last_hash == third.hash
    assert all(e.hash == e.compute_hash() for e in AuditEntry.objects.all())


def test_record_many_chains_each_change_in_order_after_the_last_entry(make_user):
    user = make_user("commander")
    first = record("user.touched", obj=user)
    second, third = record_many([dict(action="user.renamed", obj=user, after={"n": 1}),
                                 dict(action="user.renamed", obj=user, actor=user, after={"n": 2})])
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert ChainHead.objects.get().last_hash == third.hash
    stored = list(AuditEntry.objects.order_by("pk"))
    assert [(e.action, e.after, e.actor_name) for e in stored[1:]] == [
        ("user.renamed", {"n": 1}, ""), ("user.renamed", {"n": 2}, user.username)]
    assert record_many([]) == []
    assert verify().ok


def test_record_takes_object_and_actor(make_user):
    user = make_user("commander")
    entry = record("user.touched", obj=user, actor=user, before={"a": 1}, after={"a": 2}, ip="2001:0db8::0001")
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.object_type, entry.object_id, entry.actor_name) == ("auth.user", str(user.pk), user.username)
    assert entry.ip == "2001:db8::1"
    assert entry.diff() == [("a", 1, 2)]
    assert verify().ok


@pytest.mark.parametrize("given, stored", [("10.0.0.7", "10.0.0.7"), ("::ffff:10.0.0.7", "::ffff:10.0.0.7"),
                                           ("unknown", None), ("10.0.0.7:5000", None), ("", None)])
def test_addresses_are_stored_as_the_database_returns_them(db, given, stored):
    entry = record("thing.done", ip=given)
    assert AuditEntry.objects.get(pk=entry.pk).ip == stored
    assert verify().ok


def test_values_survive_the_database_round_trip_unchanged(db):
    """What jsonb gives back must hash the same as what was recorded."""
    import datetime as dt
    import decimal
    import uuid

    value = {"big": 1e16, "small": 1.5e-07, "neg_zero": -0.0, "nan": float("nan"), "when": dt.datetime(2026, 1, 1),
             "amount": decimal.Decimal("1.10"), "id": uuid.UUID(int=5), "text": "zürich \u2603", "nested": [[1, 2.5]]}
    entry = record("thing.done", before=value, after={"n": 10**20})
    assert AuditEntry.objects.get(pk=entry.pk).compute_hash() == entry.hash
    assert verify().ok


def test_the_application_refuses_to_change_or_delete(entries):
    entry = entries(1)[0]
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_update([entry], ["action"])
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_create([AuditEntry(action="forged", prev_hash="0", hash="1")])
    assert AuditEntry.objects.get(pk=entry.pk).action == "thing.changed"


@pytest.mark.parametrize("sql", ["UPDATE audit_auditentry SET action = 'forged'", "DELETE FROM audit_auditentry"])
def test_the_database_refuses_to_change_or_delete(entries, sql):
    entries(2)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEntry.objects.filter(action="thing.changed").count() == 2


def test_deleting_a_user_keeps_their_entries_intact(make_user):
    user = make_user("responder")
    record("thing.done", actor=user, object_repr="x")
    user.groups.clear()
    # A raw delete: no constraint from the audit log stops it, and nothing rewrites the entry.
    get_user_model().objects.filter(pk=user.pk)._raw_delete("default")
    entry = AuditEntry.objects.get(action="thing.done")
    assert entry.actor_name == user.username and entry.actor_id is not None
    assert verify().ok


def test_sign_in_and_sign_out_are_recorded_and_a_failed_sign_in_is_kept_by_axes(client, make_user):
    user = make_user("responder", username="erin")
    client.post(reverse("accounts:login"), {"username": "erin", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    failed = AccessFailureLog.objects.get()
    assert failed.username == "erin" and failed.ip_address == "10.1.2.3"
    assert not AuditEntry.objects.exists()  # not chained: see test_a_failed_sign_in_takes_no_chain_lock
    client.post(reverse("accounts:login"), {"username": "erin", "password": "pw-erin-123"}, REMOTE_ADDR="10.1.2.4")
    login = AuditEntry.objects.get(action="auth.login")
    assert login.actor == user and login.ip == "10.1.2.4"
    client.post(reverse("accounts:logout"), REMOTE_ADDR="10.1.2.5")
    logout = AuditEntry.objects.get(action="auth.logout")
    assert logout.actor == user and logout.ip == "10.1.2.5"
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_linear_chain():
    writers, per_writer = 6, 15
    barrier = threading.Barrier(writers)
    errors = []

    def write(n):
        try:
            barrier.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    record("race.step", object_repr=f"w{n}-{i}")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = list(AuditEntry.objects.order_by("id").values_list("prev_hash", "hash"))
    assert len(rows) == writers * per_writer
    assert len({prev for prev, _ in rows}) == len(rows), "two entries claim the same predecessor: the chain forked"
    assert verify().ok and verify().checked == len(rows)


def test_audit_atomic_takes_the_chain_head_before_anything_else(db):
    from django.test.utils import CaptureQueriesContext

    from ops_console.audit import log as audit

    record("first.entry")  # the head exists
    with CaptureQueriesContext(connection) as captured, audit.atomic():
        get_user_model().objects.select_for_update().first()
    statements = [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert '"audit_chainhead"' in statements[0] and statements[0].endswith("FOR UPDATE")


@pytest.mark.django_db(transaction=True)
def test_a_failed_sign_in_takes_no_chain_lock(client, make_user):
    """While another transaction holds the chain's head, a stranger's failed
    sign-in still completes; a successful sign-in (chained) waits for it."""
    from ops_console.audit import log as audit

    make_user("responder", username="erin")
    record("first.entry")  # the head row exists
    holding, release, errors = threading.Event(), threading.Event(), []

    def hold_the_chain():
        try:
            with audit.atomic():
                holding.set()
                release.wait(30)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_chain)
    holder.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:  # waiting for a lock fails after 2 s instead of hanging
            cursor.execute("SET lock_timeout = '2s'")
        failed = client.post(reverse("accounts:login"), {"username": "erin", "password": "wrong"})
        assert failed.status_code == 200 and AccessFailureLog.objects.filter(username="erin").exists()
        with pytest.raises(DatabaseError, match="lock timeout"):  # the control: a chained sign-in does wait
            client.post(reverse("accounts:login"), {"username": "erin", "password": "pw-erin-123"})
    finally:
        release.set()
        holder.join(30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert errors == []
    assert not AuditEntry.objects.filter(action__startswith="auth.").exists()


def _opening(n, fail=False):
    """A creating() action: records n entries, then fails if asked."""
    from ops_console.audit import log as audit

    @audit.creating
    def open_things():
        audit.record_many([dict(action="thing.opened", object_repr=f"thing {i}") for i in range(n)])
        if fail:
            raise ValueError("refused")
    return open_things


def _head_is_free():
    """Whether another connection can lock the chain's head right now."""
    free = []

    def probe():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT id FROM audit_chainhead WHERE id = 1 FOR UPDATE NOWAIT")
            free.append(True)
        except DatabaseError:
            free.append(False)
        finally:
            connections.close_all()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(10)
    return free == [True]


@pytest.mark.django_db(transaction=True)
def test_creating_actions_in_a_chained_at_end_block_join_the_chain_when_it_ends():
    """Two alert appliers open incidents side by side: the head is not held while they do."""
    from ops_console.audit import log as audit

    before = record("first.entry")
    with transaction.atomic():
        with audit.chained_at_end():
            _opening(2)()
            _opening(1)()
            assert not AuditEntry.objects.filter(action="thing.opened").exists()
            assert _head_is_free()
        assert not _head_is_free()  # appended: held until the commit
    stored = list(AuditEntry.objects.filter(action="thing.opened").order_by("pk"))
    assert [e.object_repr for e in stored] == ["thing 0", "thing 1", "thing 0"]
    assert stored[0].prev_hash == before.hash and stored[1].prev_hash == stored[0].hash
    assert ChainHead.objects.get().last_hash == stored[-1].hash
    assert verify().ok


def test_outside_a_block_creating_takes_the_chain_head_first(db):
    from django.test.utils import CaptureQueriesContext

    record("first.entry")
    with CaptureQueriesContext(connection) as captured:
        _opening(1)()
    statements = [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert '"audit_chainhead"' in statements[0] and statements[0].endswith("FOR UPDATE")
    assert AuditEntry.objects.filter(action="thing.opened").count() == 1 and verify().ok


def test_a_creating_action_that_fails_in_the_block_leaves_no_entry(db):
    from ops_console.audit import log as audit

    with audit.chained_at_end():
        with pytest.raises(ValueError):
            _opening(3, fail=True)()
        _opening(1)()
    assert list(AuditEntry.objects.filter(action="thing.opened").values_list("object_repr", flat=True)) == [
        "thing 0"]
    assert verify().ok


def test_in_a_block_only_creating_actions_record(db):
    """Any other record could not be forgotten with a savepoint that rolls back."""
    from ops_console.audit import log as audit

    with pytest.raises(RuntimeError, match="only creating"):
        with audit.chained_at_end():
            record("thing.changed")
    assert not AuditEntry.objects.exists()
    record("thing.changed")  # the block is over: recorded at once
    assert AuditEntry.objects.count() == 1
