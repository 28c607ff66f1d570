"""Runbooks, their immutable versions, and runs: a run is a state machine held
in rows (Run + one StepRun per step); workers claim step rows with a
conditional UPDATE, so the broker only ever rings the doorbell."""
import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse

from .document import KINDS, RunbookDocument


class InvalidTransition(Exception):
    """A state change the transition table does not allow."""


class StateMachine:
    """set_status() that follows the model's TRANSITIONS table."""

    def set_status(self, status):
        if status != self.status and status not in self.TRANSITIONS[self.status]:
            raise InvalidTransition(f"{self._meta.model_name} {self.pk}: {self.status} -> {status}")
        self.status = status


class Runbook(models.Model):
    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=[(k, k) for k in KINDS], default="runbook")
    services = models.JSONField(default=list, blank=True, help_text="Service slugs")
    alerts = models.JSONField(default=list, blank=True, help_text="Alert names this runbook answers")
    current_version = models.ForeignKey("RunbookVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    source_path = models.CharField(max_length=500, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("runbooks:detail", args=[self.slug])


def sha256_of(text):
    return hashlib.sha256(text.encode()).hexdigest()


class RunbookVersion(models.Model):
    """One immutable text of a runbook with its parsed document. Runs pin it."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    source = models.TextField()
    sha256 = models.CharField(max_length=64)
    document = models.JSONField(help_text="RunbookDocument.to_json()")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "sha256"], name="runbook_version_unique_text"),
            models.UniqueConstraint(fields=["runbook", "number"], name="runbook_version_unique_number"),
        ]

    def __str__(self):
        return f"{self.runbook.slug} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise InvalidTransition("runbook versions are immutable: save a new version instead")
        super().save(*args, **kwargs)

    def parsed(self):
        return RunbookDocument.from_json(self.document)


class Run(StateMachine, models.Model):
    RUNNING, WAITING, SUCCEEDED, FAILED, CANCELLED = "running", "waiting", "succeeded", "failed", "cancelled"
    STATUSES = [(s, s) for s in (RUNNING, WAITING, SUCCEEDED, FAILED, CANCELLED)]
    FINISHED = (SUCCEEDED, FAILED, CANCELLED)
    # The one table of allowed run transitions. A failed run may be retried from a step.
    TRANSITIONS = {
        RUNNING: {WAITING, SUCCEEDED, FAILED, CANCELLED},
        WAITING: {RUNNING, SUCCEEDED, FAILED, CANCELLED},
        FAILED: {RUNNING},
        SUCCEEDED: set(),
        CANCELLED: set(),
    }

    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="runs")
    version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="runs")
    # What people see: values of `type: secret` parameters are "****" here...
    parameters = models.JSONField(default=dict, blank=True)
    # ...and only here, for the workers; emptied when the run can no longer run a step.
    secret_parameters = models.JSONField(default=dict, blank=True, editable=False)
    status = models.CharField(max_length=20, choices=STATUSES, default=RUNNING, db_index=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the run came from, e.g. {"incident": "INC-42"}; the incidents app reads it.
    context = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    # [{"phase": index, "title": ..., "at": iso}] recorded by the reconciler.
    phase_overruns = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("start_run", "Can start a runbook run"), ("cancel_run", "Can cancel a run")]

    def __str__(self):
        return f"run {self.pk} of {self.runbook.slug}"

    def get_absolute_url(self):
        return reverse("runbooks:run", args=[self.pk])

    @property
    def finished(self):
        return self.status in self.FINISHED

    def document(self):
        return self.version.parsed()

    @property
    def duration(self):
        end = self.finished_at
        return (end - self.created_at).total_seconds() if end else None


class StepRun(StateMachine, models.Model):
    PENDING, WAITING, QUEUED, RUNNING = "pending", "waiting", "queued", "running"
    SUCCEEDED, FAILED, SKIPPED, CANCELLED = "succeeded", "failed", "skipped", "cancelled"
    STATUSES = [(s, s) for s in (PENDING, WAITING, QUEUED, RUNNING, SUCCEEDED, FAILED, SKIPPED, CANCELLED)]
    DONE = (SUCCEEDED, SKIPPED)       # the run may move past it
    FINISHED = (SUCCEEDED, FAILED, SKIPPED, CANCELLED)
    # The one table of allowed step transitions. Back to pending = retry from an earlier step.
    TRANSITIONS = {
        PENDING: {WAITING, QUEUED, SKIPPED, CANCELLED},
        WAITING: {QUEUED, SUCCEEDED, FAILED, SKIPPED, CANCELLED, PENDING},
        QUEUED: {RUNNING, SKIPPED, CANCELLED, FAILED, PENDING},
        RUNNING: {SUCCEEDED, FAILED, CANCELLED, QUEUED},
        SUCCEEDED: {PENDING},
        FAILED: {PENDING, QUEUED, SKIPPED},
        SKIPPED: {PENDING},
        CANCELLED: {PENDING},
    }

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=20)
    title = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=20, choices=STATUSES, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The lease: the claiming worker refreshes heartbeat_at while the step runs;
    # a stale heartbeat means the worker died ("worker lost").
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True, help_text="worker hostname and pid")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    hostname = models.CharField(max_length=200, blank=True)
    command = models.TextField(blank=True, help_text="What was executed, with parameters filled in")
    output = models.TextField(blank=True)
    output_cut = models.BigIntegerField(default=0, help_text="Bytes of output left out between head and tail")
    exit_code = models.IntegerField(null=True, blank=True)
    value = models.JSONField(null=True, blank=True)
    expectation = models.CharField(max_length=500, blank=True)
    expectation_met = models.BooleanField(null=True, blank=True)
    error = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Approval expiry")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="step_run_unique_index")]
        permissions = [("confirm_step", "Can run, confirm, skip and retry steps"),
                       ("approve_step", "Can approve a gated step")]

    def __str__(self):
        return f"step {self.index + 1} of run {self.run_id}"

    @property
    def finished(self):
        return self.status in self.FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @staticmethod
    def new_token():
        return uuid.uuid4()


class StepAttempt(models.Model):
    """One attempt of a worker-executed step, kept when it ends: an automatic
    retry or a "retry from here" is a new attempt, so nothing a step printed
    is ever overwritten. The StepRun keeps showing the latest attempt."""

    SUCCEEDED, FAILED, CANCELLED, LOST = "succeeded", "failed", "cancelled", "lost"
    STATUSES = [(s, s) for s in (SUCCEEDED, FAILED, CANCELLED, LOST)]
    # What a StepRun holds about its latest attempt, copied as the attempt ends.
    COPIED = ("command", "output", "output_cut", "exit_code", "value", "expectation_met", "error", "started_at",
              "finished_at", "hostname", "claimed_by", "confirmed_by_id")
    # What a worker reports (finish_step); the rest was known when the attempt started.
    REPORTED = ("command", "output", "output_cut", "exit_code", "value", "expectation_met", "error", "finished_at")

    step_run = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="attempt_records")
    number = models.PositiveIntegerField(help_text="1 for the first attempt")
    status = models.CharField(max_length=20, choices=STATUSES)
    command = models.TextField(blank=True, help_text="What was executed, with parameters filled in")
    output = models.TextField(blank=True)
    output_cut = models.BigIntegerField(default=0)
    exit_code = models.IntegerField(null=True, blank=True)
    value = models.JSONField(null=True, blank=True)
    expectation_met = models.BooleanField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    hostname = models.CharField(max_length=200, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True, help_text="worker hostname and pid")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", help_text="who clicked run or retry for this attempt")

    class Meta:
        ordering = ["step_run", "number"]
        constraints = [models.UniqueConstraint(fields=["step_run", "number"], name="step_attempt_unique_number")]

    def __str__(self):
        return f"attempt {self.number} of {self.step_run}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @classmethod
    def keep(cls, step_run, status, *, reported=False):
        """Keep the attempt step_run holds now. The first to end an attempt writes
        its row and later callers change nothing, except a worker reporting
        (reported=True) after a cancel: it fills in what the step printed.
        The caller holds the run's lock, so two writers never race."""
        fields = {name: getattr(step_run, name) for name in cls.COPIED}
        fields["output_cut"] = fields["output_cut"] or 0
        if reported:
            return cls.objects.update_or_create(
                step_run_id=step_run.pk, number=step_run.attempts,
                defaults={name: fields[name] for name in cls.REPORTED},
                create_defaults={**fields, "status": status})[0]
        # One INSERT ... ON CONFLICT DO NOTHING: this runs once per step, on the engine's hot path.
        cls.objects.bulk_create([cls(step_run_id=step_run.pk, number=step_run.attempts, status=status, **fields)],
                                ignore_conflicts=True)


class Schedule(models.Model):
    """A runbook started on a cron expression in a time zone. The due time is a
    row (next_due_at), claimed by a conditional UPDATE (schedules.py), so any
    number of beat processes fire each occurrence once. It names the runbook,
    not a version: each run takes the version current when it fires, as a
    person pressing Start would, and the run pins it."""

    RUN_ONCE_LATE, SKIP = "run_once_late", "skip"
    ON_MISSED = [(RUN_ONCE_LATE, "run once, marked late"), (SKIP, "skip it")]

    name = models.CharField(max_length=200, unique=True)
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="schedules")
    cron = models.CharField(max_length=100, help_text="Five fields: minute hour day-of-month month day-of-week")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin")
    # Only the values an admin typed; a parameter left out takes the runbook's default when it fires.
    parameters = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    on_missed = models.CharField(max_length=20, choices=ON_MISSED, default=RUN_ONCE_LATE)
    # UTC; null while disabled. The claim compares it, so it is also the fencing token.
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True, help_text="Why the last occurrence started no run")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="Runs start in this person's name")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class DrillResult(models.Model):
    """What one run of a drill measured against the drill's targets (drills.py
    keeps it up to date as the run's steps finish, and gives the verdict when
    the run ends). Times are the run's events; seconds count from T0."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="drill_result")
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="drill_results")
    targets = models.JSONField(default=dict, help_text="The version's targets in seconds, as the run measured them")
    # {event: {"at": iso, "by": "step" | "click", "step": number, "user": name}}
    events = models.JSONField(default=dict, blank=True)
    fault_injected_at = models.DateTimeField(null=True, blank=True, help_text="T0")
    fault_removed_at = models.DateTimeField(null=True, blank=True, help_text="T1")
    detected_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    detection_seconds = models.FloatField(null=True, blank=True)
    recovery_seconds = models.FloatField(null=True, blank=True)
    # Per target: True met, False missed, None not judged yet (or no such target).
    detection_met = models.BooleanField(null=True, blank=True)
    recovery_met = models.BooleanField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True, help_text="Every target met; null until the run ends")
    over_budget = models.JSONField(default=list, blank=True, help_text="Titles of the phases over their budget")
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-run_id"]

    def __str__(self):
        return f"drill result of {self.run}"
