"""copy_create(): what bulk_create would store, in one COPY."""
import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from ops_console import database
from ops_console.database import copy_create
from ops_console.audit.models import AuditEntry
from ops_console.escalation.models import ScheduledLevel
from ops_console.incidents.models import Alert, Incident, Severity, Status, TimelineEvent

pytestmark = pytest.mark.django_db


def stored(model, objs, *fields):
    return [model.objects.filter(pk=obj.pk).values(*fields).get() for obj in objs]


def test_rows_read_back_as_bulk_create_stores_them():
    severity = Severity.objects.get(code="P2")
    when = dt.datetime(2026, 12, 5, 9, 30, 1, 123456, tzinfo=dt.timezone.utc)

    def incidents(tag):
        return [Incident(title=f"{tag} “quoted” \\ tab\there", severity=severity, dedup_key=f"{tag}-1",
                         summary="line one\nline two", detected_at=when, created_at=when, updated_at=when),
                Incident(title=f"{tag} plain", severity=severity, dedup_key="", summary="", detected_at=when,
                         created_at=when, updated_at=when)]

    copied, created = copy_create(incidents("a") + incidents("c"))[:2], Incident.objects.bulk_create(incidents("b"))
    fields = ["title", "severity_id", "status", "summary", "detected_at", "resolved_at", "commander_id"]
    assert all(obj.pk and not obj._state.adding for obj in copied)
    mine, theirs = stored(Incident, copied, *fields), stored(Incident, created, *fields)
    for row in mine + theirs:
        row["title"] = row["title"][1:]
    assert mine == theirs
    events = [TimelineEvent(incident=copied[0], kind="note", message="m",
                            data={"nested": {"list": [1, 2.5, None, "ü"]}, "quote": "\"\\"}, created_at=when),
              TimelineEvent(incident=copied[1], kind="note", message="", data={}, created_at=when),
              TimelineEvent(incident=copied[1], kind="note", message="tab\there", data=[], created_at=when)]
    copy_create(events)
    assert [row["data"] for row in stored(TimelineEvent, events, "data")] == [
        {"nested": {"list": [1, 2.5, None, "ü"]}, "quote": "\"\\"}, {}, []]
    assert TimelineEvent.objects.get(pk=events[2].pk).message == "tab\there"


def test_addresses_small_numbers_nulls_choices_and_encoded_json_read_back_as_bulk_create_stores_them():
    # The COPY is binary: each value is written in its column's own type, so each kind of column is checked.
    when = dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.timezone.utc)
    incident = Incident.objects.create(title="levels", severity=Severity.objects.get(code="P1"),
                                       status=Status.RESOLVED)
    assert Incident.objects.filter(pk=copy_create([Incident(title=f"i{n}", severity=incident.severity,
                                                            status=Status.RESOLVED) for n in range(3)])[0].pk,
                                   status="resolved").exists()

    def entries(tag):
        return [AuditEntry(created_at=when, actor_name="ann", ip=ip, action="test.copied", object_id=f"{tag}{n}",
                           after={"when": when, "n": n, "none": None}, before=None, prev_hash="0" * 64,
                           hash=f"{tag}{n}".ljust(64, "0"), seal=seal)
                for n, (ip, seal) in enumerate([("192.0.2.7", 1), ("2001:db8::1", None), (None, 32767)])]

    def levels(generation):
        return [ScheduledLevel(incident=incident, generation=generation, level=level, role_slug="sre",
                               role_name="SRE “primary”", stop_on="ack", repeat_every_minutes=repeat, due_at=when)
                for level, repeat in [(1, None), (2, 15), (3, 0)]]

    fields = ["created_at", "actor_name", "ip", "action", "before", "after", "seal", "actor_id"]
    mine, theirs = copy_create(entries("a")), QuerySet(AuditEntry).bulk_create(entries("b"))
    assert stored(AuditEntry, mine, *fields) == stored(AuditEntry, theirs, *fields)
    assert stored(AuditEntry, mine, "ip", "after")[1] == {"ip": "2001:db8::1", "after": {
        "when": "2026-12-05T09:30:00Z", "n": 1, "none": None}}
    fields = ["level", "round", "role_name", "stop_on", "repeat_every_minutes", "due_at", "status", "fired_at",
              "fired_by", "held_by_id", "cancelled_reason"]
    assert stored(ScheduledLevel, copy_create(levels(1)), *fields) == \
        stored(ScheduledLevel, ScheduledLevel.objects.bulk_create(levels(2)), *fields)


def test_a_row_or_two_go_by_insert_and_read_back_the_same():
    severity = Severity.objects.get(code="P1")
    one = copy_create([Incident(title="alone", severity=severity, dedup_key="k")])
    assert one[0].pk and Incident.objects.get(pk=one[0].pk).dedup_key == "k"


def test_keys_come_from_the_sequence_so_later_inserts_follow():
    severity = Severity.objects.get(code="P3")
    copied = copy_create(Incident(title=f"t{n}", severity=severity) for n in range(3))
    later = Incident.objects.create(title="later", severity=severity)
    assert len({obj.pk for obj in copied}) == 3 and later.pk > max(obj.pk for obj in copied)


def test_a_tables_sequence_is_looked_up_once_then_the_ids_take_one_query(django_assert_num_queries):
    severity = Severity.objects.get(code="P3")
    database._sequences.clear()  # as in a new process
    with django_assert_num_queries(3):  # the sequence's name, the five ids by nextval, the COPY
        copy_create(Incident(title=f"first {n}", severity=severity) for n in range(5))
    with django_assert_num_queries(2):
        again = copy_create(Incident(title=f"again {n}", severity=severity) for n in range(5))
    assert sorted(Incident.objects.filter(title__startswith="again").values_list("pk", flat=True)) == \
        sorted(obj.pk for obj in again)


def test_a_conflict_is_djangos_integrity_error_and_stores_nothing():
    when = dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc)
    Alert.objects.create(fingerprint="fp-x", starts_at=when, status="firing")
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_create([Alert(fingerprint="fp-y", starts_at=when, status="firing"),
                     Alert(fingerprint="fp-z", starts_at=when, status="firing"),
                     Alert(fingerprint="fp-x", starts_at=when, status="firing")])
    assert list(Alert.objects.values_list("fingerprint", flat=True)) == ["fp-x"]


def test_one_model_at_a_time():
    with pytest.raises(TypeError):
        copy_create([Alert(fingerprint="a", starts_at=dt.datetime.now(dt.timezone.utc), status="firing"),
                     Incident(title="b", severity=Severity.objects.get(code="P3"))])
